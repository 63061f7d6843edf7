"""Verdicts for the seed claims, computed by running code on the installed torch.

Each claim has a :class:`ClaimRule` naming *probes*: fact ids from the
catalogue, or small functions here that run the claim's own code and return
``(observed, evidence)``. The verdict follows from what the probes observe:

1. a **refuting** probe observed → ``wrong`` (or ``outdated`` for removed or
   superseded APIs), with the correction;
2. else a **supporting** probe not observed → ``wrong``;
3. else a **caveat** probe observed (the condition the note leaves out) →
   ``holds-with-caveat``, with the corrected statement;
4. else ``holds``.

No verdict is typed in: if a future torch changes a behaviour, the probe
observes something else and the verdict follows.

>>> v = evaluate_claim("S000-07")
>>> v.verdict, v.correction.startswith("torch.arange")
('wrong', True)
"""

from __future__ import annotations

import inspect
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from torchfacts.facts.registry import FactResult, get_fact, run_fact
from torchfacts.facts.seeds import SEED_CLAIMS

__all__ = ["ClaimRule", "Verdict", "RULES", "VERDICTS", "evaluate_claim", "evaluate_claims", "probe_source"]

VERDICTS = ("holds", "holds-with-caveat", "outdated", "wrong")

Probe = Union[str, Callable[[], "tuple[bool, str]"]]


@dataclass(frozen=True)
class ClaimRule:
    id: str
    supports: tuple[Probe, ...] = ()
    caveats: tuple[Probe, ...] = ()
    refutes: tuple[Probe, ...] = ()
    refuted: str = "wrong"  # or "outdated"
    correction: str = ""  # the corrected statement, shown unless the verdict is 'holds'


@dataclass
class Verdict:
    id: str
    seed: str
    claim: str
    verdict: str
    explanation: str
    evidence: list[str]
    correction: str
    errors: list[str]  # probes that crashed instead of observing: never expected


def observe(probe: Probe, cache: dict | None = None) -> tuple[bool, str, str, bool]:
    """(observed?, what it says, source, crashed?) for a fact id or a probe function; ``cache`` saves re-runs."""
    if cache is not None and probe in cache:
        return cache[probe]
    if isinstance(probe, str):
        observation = fact_observation(run_fact(get_fact(probe), "cpu"))
    else:
        observation = _run_probe(probe)
    if cache is not None:
        cache[probe] = observation
    return observation


def fact_observation(result: FactResult) -> tuple[bool, str, str, bool]:
    """A fact's CPU result as a probe observation (to share results through ``cache``)."""
    return result.status == "pass", result.evidence, f"fact {result.fact_id}", result.status == "error"


def probe_source(probe: Probe) -> str:
    """A fact id as it is, or a probe function's source code (for ``torchfacts explain``)."""
    return f"fact {probe} (torchfacts explain {probe})" if isinstance(probe, str) else "\n" + inspect.getsource(probe)


def _run_probe(probe: Callable[[], tuple[bool, str]]) -> tuple[bool, str, str, bool]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            observed, evidence = probe()
    except Exception as crash:  # a probe that breaks observes nothing
        return False, f"{type(crash).__name__}: {crash}", probe.__name__, True
    return observed, evidence, probe.__name__.strip("_").replace("_", " "), False


def _observe_all(probes, want: bool, cache: dict | None) -> tuple[list[str], list[str], list[str]]:
    """(sources whose observation equals ``want``, evidence of every probe, crashed sources)."""
    hits, evidence, crashed = [], [], []
    for probe in probes:
        observed, said, source, crash = observe(probe, cache)
        evidence.append(f"[{source}] {said}")
        if observed == want:
            hits.append(source)
        if crash:
            crashed.append(f"{source}: {said}")
    return hits, evidence, crashed


def evaluate_claim(claim_id: str, cache: dict | None = None) -> Verdict:
    """Run a claim's probes and derive its verdict."""
    if claim_id not in RULES:
        raise ValueError(f"unknown claim id {claim_id!r}; ids run from S000-01 to S004-05")
    rule, seed = RULES[claim_id], SEED_CLAIMS[claim_id]
    refuted, refute_evidence, refute_errors = _observe_all(rule.refutes, True, cache)
    unsupported, support_evidence, support_errors = _observe_all(rule.supports, False, cache)
    caveated, caveat_evidence, caveat_errors = _observe_all(rule.caveats, True, cache)
    evidence = support_evidence + caveat_evidence + refute_evidence
    if refuted:
        verdict, why = rule.refuted, f"Running the code refutes it ({', '.join(refuted)})."
    elif unsupported:
        verdict, why = "wrong", f"What should support it was not observed ({', '.join(unsupported)})."
    elif caveated:
        verdict, why = "holds-with-caveat", f"It holds, but only under conditions the note leaves out ({', '.join(caveated)})."
    else:
        verdict, why = "holds", "Every probe observed what the claim says."
    correction = "" if verdict == "holds" else (rule.correction or "See the evidence.")
    return Verdict(claim_id, seed.seed, seed.text, verdict, why, evidence, correction,
                   refute_errors + support_errors + caveat_errors)


def evaluate_claims(seeds: list[str] | None = None, verdicts: list[str] | None = None,
                    cache: dict | None = None) -> list[Verdict]:
    cache = {} if cache is None else cache  # a fact or probe shared by several claims runs once
    results = [evaluate_claim(cid, cache) for cid in RULES if seeds is None or SEED_CLAIMS[cid].seed in seeds]
    return [v for v in results if verdicts is None or v.verdict in verdicts]


# --- probes that run the claims' own code ---------------------------------------


def _subclass_with_layers():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden, self.out = nn.Linear(4, 3), nn.Linear(3, 2)

        def forward(self, x):
            return self.out(self.hidden(x).relu())

    net = Net()
    params = len(list(net.parameters()))
    return net(torch.zeros(1, 4)).shape == (1, 2) and params == 4, \
        f"an nn.Module subclass registers the {params} parameters of layers made in __init__; model(x) runs forward"


def _module_creates_parameters():
    layer = nn.Linear(3, 2)
    has = all(callable(getattr(layer, name, None)) for name in ("eval", "train", "parameters", "state_dict"))
    return has and isinstance(layer.weight, nn.Parameter), \
        f"nn.Linear(3, 2) created {[n for n, _ in layer.named_parameters()]} itself and has eval()/parameters(): {has}"


def _range_view_fails():
    try:
        torch.range(3, 4).view(2, 6)
    except RuntimeError as refused:
        return True, f"torch.range(3, 4) has {torch.range(3, 4).numel()} elements; .view(2, 6) raised: {refused}"
    return False, "torch.range(3, 4).view(2, 6) worked"


def _range_removed():
    return not hasattr(torch, "range"), f"torch.range exists: {hasattr(torch, 'range')}"


def _non_contiguous_views():
    y = torch.arange(12.0).reshape(3, 4)[1:, ::2]
    return (not y.is_contiguous() and y.storage_offset() > 0), \
        f"x[1:, ::2] has strides {y.stride()}, storage offset {y.storage_offset()}, contiguous {y.is_contiguous()}: " \
        "a tensor also has an offset, and its elements need not be contiguous in memory"


def _variable_is_tensor():
    from torch.autograd import Variable

    v = Variable(torch.ones(2), requires_grad=True)
    return type(v) is torch.Tensor, f"Variable(tensor) returns a {type(v).__module__}.{type(v).__name__}"


def _forward_required():
    try:
        nn.Module()(torch.zeros(1))
    except NotImplementedError as missing:
        return True, f"calling a Module without forward raised NotImplementedError ({missing}); backward needs no code"
    return False, "a Module without forward could be called"


def _sequential_in_order():
    f, g = nn.Linear(2, 3), nn.Linear(3, 1)
    x = torch.randn(4, 2)
    same = torch.equal(nn.Sequential(f, g)(x), g(f(x)))
    return same, f"nn.Sequential(f, g)(x) == g(f(x)): {same}; no forward written"


def _backward_fills_grads():
    layer = nn.Linear(2, 1)
    layer(torch.ones(1, 2)).sum().backward()
    return layer.weight.grad is not None, f"after loss.backward(): weight.grad = {layer.weight.grad.tolist()}"


def _dataset_is_list_like():
    dataset = torch.utils.data.TensorDataset(torch.arange(5.0), torch.arange(5))
    ok = len(dataset) == 5 and dataset[2][1].item() == 2
    return ok, f"TensorDataset: len() = {len(dataset)}, dataset[2] = {tuple(t.item() for t in dataset[2])}"


def _iterable_dataset_has_no_len():
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(3))

    has_len = hasattr(Stream(), "__len__")
    return not has_len, f"an IterableDataset has __getitem__: {hasattr(Stream(), '__getitem__')}, __len__: {has_len}"


def _loader_workers_are_processes():
    import multiprocessing

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.arange(4)), batch_size=2, num_workers=1)
    iterator = iter(loader)
    processes = all(isinstance(w, multiprocessing.process.BaseProcess) for w in iterator._workers)
    next(iterator)
    del iterator
    return processes, f"DataLoader(num_workers=1) loads batches in worker processes (multiprocessing): {processes}"


def _batchnorm_takes_channels():
    bn = nn.BatchNorm2d(3)
    try:
        bn(torch.zeros(2, 4, 5, 5))
    except RuntimeError:
        return bn.num_features == 3, "BatchNorm2d(3) has num_features 3 and refuses a 4-channel input"
    return False, "BatchNorm2d(3) accepted a 4-channel input"


def _seeded_random_reproducible():
    torch.manual_seed(5)
    a, b = torch.randn(3), torch.rand_like(torch.zeros(2, 4))
    torch.manual_seed(5)
    same = torch.equal(a, torch.randn(3)) and torch.equal(b, torch.rand_like(torch.zeros(2, 4)))
    return same and b.shape == (2, 4), f"same seed, same randn/rand_like: {same}; rand_like shape {tuple(b.shape)}"


def _mm_shapes():
    out = torch.mm(torch.zeros(2, 3), torch.zeros(3, 4)).shape
    try:
        torch.mm(torch.zeros(2, 3), torch.zeros(4, 3))
    except RuntimeError:
        return out == (2, 4), f"(2×3) @ (3×4) → {tuple(out)}; (2×3) @ (4×3) raised RuntimeError"
    return False, "mismatched inner sizes were accepted"


def _normalize_to_minus_one_one():
    from torchvision import transforms

    pixels = np.array([[[0], [128], [255]]], dtype=np.uint8)  # H×W×C
    out = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])(pixels)
    low, high = out.min().item(), out.max().item()
    return low == -1.0 and high == 1.0, f"pixels 0, 128, 255 → {[round(v, 4) for v in out.flatten().tolist()]}"


def _mnist_no_download_when_present():
    import struct

    from torchvision import datasets

    with tempfile.TemporaryDirectory() as root:
        raw = Path(root) / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for split in ("train", "t10k"):
            (raw / f"{split}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, 1, 28, 28) + bytes(784))
            (raw / f"{split}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, 1) + bytes(1))
        dataset = datasets.MNIST(root, train=True, download=True)  # no network here: this must not download
        return len(dataset) == 1, f"MNIST(root, download=True) with the files present loaded {len(dataset)} sample offline"


def _softmax_rows_sum_to_one():
    torch.manual_seed(0)
    p = nn.Softmax(dim=1)(torch.randn(4, 5) * 3)
    ok = torch.allclose(p.sum(1), torch.ones(4)) and bool((p >= 0).all())
    return ok, f"nn.Softmax(dim=1) rows sum to {[round(v, 5) for v in p.sum(1).tolist()]}"


def _custom_softmax_overflows():
    x = torch.tensor([[1000.0, 0.0], [1.0, 2.0]])
    out = torch.exp(x) / torch.sum(torch.exp(x), dim=1).view(-1, 1)
    broken = bool(torch.isnan(out).any())
    return broken, f"the note's softmax on logits [[1000, 0], ...] gives {out[0].tolist()}; torch.softmax gives " \
                   f"{torch.softmax(x, 1)[0].tolist()}"


def _topk_is_argmax():
    torch.manual_seed(0)
    p = torch.softmax(torch.randn(6, 4), 1)
    top_p, top_class = p.topk(1, dim=1)
    same = torch.equal(top_class.squeeze(1), p.argmax(1))
    return same, f"topk(1, dim=1) returns (values, indices) of shape {tuple(top_class.shape)}; indices == argmax: {same}"


def _accuracy_numpy_needs_cpu():
    try:
        torch.ones(2, dtype=torch.bool, device="meta").numpy()
    except (TypeError, RuntimeError, NotImplementedError) as refused:
        return True, f"equals.numpy() needs a CPU tensor (a non-CPU one raised {type(refused).__name__}); " \
                     "(top_class == labels).float().mean() works everywhere"
    return False, "a non-CPU tensor converted to NumPy"


def _no_grad_stops_tracking():
    layer = nn.Linear(2, 2)
    with torch.no_grad():
        out = layer(torch.ones(1, 2))
    return not out.requires_grad, f"under torch.no_grad(): output.requires_grad = {out.requires_grad}"


def _validation_minimum_before_training_minimum():
    from torchfacts.data import digits
    from torchfacts.models import MLP
    from torchfacts.training import fit, seed_everything

    seed_everything(0)
    train, val = digits(batch_size=16, val_fraction=0.9)  # few training samples: it overfits
    model = MLP(64, (64,), 10, dropout=0.0)
    history = fit(model, train, val, loss_fn=nn.CrossEntropyLoss(), optimizer=torch.optim.Adam(model.parameters(), 1e-2),
                  epochs=25, progress=False)
    train_best = min(history.epochs, key=lambda r: r.train_loss).epoch
    return history.best_epoch < train_best, \
        f"training on 180 digits: validation loss is lowest at epoch {history.best_epoch}, training loss at {train_best}"


def _seed_004_output_is_relu():
    from torchfacts.checks import check_model

    class Net(nn.Module):  # seed 004's network, as written (with the flattened size that fits 8×8)
        def __init__(self, n_classes):
            super().__init__()
            self.conv1, self.pool, self.fc1 = nn.Conv2d(1, 32, 5), nn.MaxPool2d(2, 2), nn.Linear(32 * 4, n_classes)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            return F.relu(self.fc1(x.view(x.size(0), -1)))

    torch.manual_seed(0)
    finding = check_model(Net(20), torch.randn(16, 1, 8, 8), torch.randint(0, 20, (16,)))["outputs-and-loss"]
    return finding.status == "fail", f"check_model on seed 004's Net with CrossEntropyLoss: {finding.status}: {finding.evidence}"


RULES: dict[str, ClaimRule] = {r.id: r for r in [
    ClaimRule("S000-01", supports=(_subclass_with_layers,)),
    ClaimRule("S000-02", supports=("modes.module-equals-functional",)),
    ClaimRule("S000-03", supports=("modes.nn-modules-call-functional",)),
    ClaimRule("S000-04", supports=(_module_creates_parameters,)),
    ClaimRule("S000-05", supports=("modes.relu-and-linear-mode-independent",), caveats=("modes.functional-dropout-ignores-eval",),
              correction="Functional forms are fine for ops without state or mode (relu, sigmoid, tanh). F.dropout is "
                         "stateless but mode-dependent: pass training=self.training, or use nn.Dropout."),
    ClaimRule("S000-06", supports=("views.view-shares-storage",), caveats=("views.view-of-transposed-raises",),
              correction="view() never copies — when the layout allows it. On a non-viewable layout (e.g. a transpose) "
                         "it raises; reshape() then silently copies."),
    ClaimRule("S000-07", refutes=(_range_view_fails, _range_removed),
              correction="torch.arange(1, 13).view(2, 6) (12 elements). torch.range(3, 4) is deprecated, includes its "
                         "end and has only 2 elements."),
    ClaimRule("S000-08", supports=("views.view-changes-only-metadata",), caveats=(_non_contiguous_views,),
              correction="A tensor is a storage plus shape, stride and storage offset; its elements need not be "
                         "contiguous (views of slices and transposes are not)."),
    ClaimRule("S000-09", supports=("views.view-shares-storage", "views.view-changes-only-metadata"),
              caveats=("views.view-of-transposed-raises",),
              correction="view() changes only shape and stride, and succeeds only when each new dimension stays inside "
                         "one contiguous chunk of the old layout (torchfacts.views.view_strides)."),
    ClaimRule("S000-10", supports=("modes.dropout-not-trainable",)),
    ClaimRule("S000-11", supports=("modes.dropout-eval-is-identity", "modes.dropout-train-zeroes-and-scales")),
    ClaimRule("S000-12", supports=("modes.relu-and-linear-mode-independent",)),
    ClaimRule("S000-13", refutes=("modes.relu-and-linear-mode-independent", "modes.eval-keeps-autograd"),
              correction="eval() only switches modules with mode-dependent behaviour (Dropout, BatchNorm, ...); Linear "
                         "and Conv behave the same, and autograd stays on. Learnable parameters keep learning unless frozen."),
    ClaimRule("S001-01", refutes=(_variable_is_tensor,), refuted="outdated",
              correction="Since PyTorch 0.4 Variable and Tensor are merged: Variable(t) returns a Tensor; layers take tensors, "
                         "and requires_grad=True on a tensor turns on autograd."),
    ClaimRule("S001-02", supports=(_forward_required, _backward_fills_grads), caveats=(_sequential_in_order,),
              correction="You write only forward; autograd derives backward. nn.Sequential needs not even a forward."),
    ClaimRule("S001-03", supports=("modes.children-vs-modules",), caveats=("modes.children-vs-modules",),
              correction="parameters() and modules() recurse; children() yields only the direct submodules."),
    ClaimRule("S001-04", supports=(_sequential_in_order,)),
    ClaimRule("S001-05", supports=(_backward_fills_grads,)),
    ClaimRule("S001-06", refutes=("training.step-computes-no-gradients",),
              correction="loss.backward() computes the gradients; optimizer.step() only applies them; zero_grad() clears them."),
    ClaimRule("S001-07", supports=(_dataset_is_list_like,), caveats=(_iterable_dataset_has_no_len,),
              correction="Map-style datasets implement __getitem__ and __len__; IterableDataset implements __iter__ instead."),
    ClaimRule("S001-08", supports=("training.seeded-shuffle-is-reproducible",), caveats=(_loader_workers_are_processes,),
              correction="DataLoader batches (and shuffles) a dataset; with num_workers > 0 it loads in worker processes, not threads."),
    ClaimRule("S001-09", supports=(_batchnorm_takes_channels,)),
    ClaimRule("S001-10", supports=("modes.batchnorm-eval-uses-running-statistics",)),
    ClaimRule("S001-11", supports=("padding.seed-size-formula-stride-1-only",), caveats=("padding.seed-size-formula-stride-1-only",),
              correction="In general: (size + 2*padding - dilation*(kernel_size-1) - 1) // stride + 1 "
                         "(torchfacts.padding.conv_output_size)."),
    ClaimRule("S001-12", supports=("padding.half-padding-same-for-odd-kernels",), caveats=("padding.same-string-refuses-stride",),
              correction="(k-1)//2 keeps the size only at stride 1; for SAME at any stride pad asymmetrically "
                         "(torchfacts.padding.same_padding / conv_same)."),
    ClaimRule("S001-13", supports=("modes.eval-is-train-false", "modes.flag-reaches-every-submodule")),
    ClaimRule("S001-14", supports=("training.params-not-given-never-change",)),
    ClaimRule("S001-15", supports=("training.requires-grad-false-stays-unchanged",),
              caveats=("training.frozen-late-still-moves", "training.frozen-batchnorm-still-updates-in-train"),
              correction="requires_grad=False freezes a parameter only once its .grad is None (freezing does not clear it), "
                         "and BatchNorm running statistics keep updating in train mode (torchfacts.modes.freeze handles both)."),
    ClaimRule("S002-01", supports=("modes.call-runs-hooks-forward-does-not",)),
    ClaimRule("S002-02", supports=(_sequential_in_order,)),
    ClaimRule("S002-03", supports=(_backward_fills_grads,), caveats=("training.backward-accumulates",),
              correction="Clear gradients every iteration: optimizer.zero_grad(); outputs = model(inputs); "
                         "loss = criterion(outputs, labels); loss.backward(); optimizer.step()."),
    ClaimRule("S002-04", supports=("modes.batchnorm-train-uses-batch-statistics", "modes.batchnorm-eval-uses-running-statistics",
                                   "modes.dropout-eval-is-identity", "modes.eval-is-train-false")),
    ClaimRule("S003-01", supports=(_seeded_random_reproducible,)),
    ClaimRule("S003-02", supports=(_mm_shapes,)),
    ClaimRule("S003-03", supports=("interop.from-numpy-shares",),
              caveats=("interop.negative-strides-raise", "interop.readonly-warns-once"),
              correction="from_numpy shares memory for writable, native-order arrays with non-negative strides of a "
                         "supported dtype; it refuses negative strides and warns on read-only arrays."),
    ClaimRule("S003-04", supports=("interop.numpy-shares",),
              caveats=("interop.numpy-requires-grad-raises", "interop.bfloat16-numpy-raises"),
              correction=".numpy() shares memory only for CPU tensors that do not require grad (or under no_grad), of a "
                         "dtype NumPy has, without a conjugate/negative bit; otherwise it raises (force=True copies)."),
    ClaimRule("S003-05", supports=(_normalize_to_minus_one_one,)),
    ClaimRule("S003-06", supports=(_mnist_no_download_when_present,)),
    ClaimRule("S003-07", refutes=("training.loader-iterator-has-no-next-method",),
              refuted="outdated", correction="images, labels = next(iter(loader)) — .next() is Python 2."),
    ClaimRule("S003-08", supports=("views.flatten-contiguous-is-view",), caveats=("views.batch-view-vs-flatten",),
              correction="images.flatten(1) works for every layout; images.view(images.shape[0], -1) fails on non-viewable batches."),
    ClaimRule("S003-09", supports=(_softmax_rows_sum_to_one,)),
    ClaimRule("S003-10", caveats=(_custom_softmax_overflows,),
              correction="torch.softmax(x, dim=1) subtracts the row maximum first and never overflows."),
    ClaimRule("S003-11", supports=("training.cross-entropy-is-log-softmax-plus-nll",)),
    ClaimRule("S003-12", supports=("training.cross-entropy-is-log-softmax-plus-nll",
                                   "training.softmax-before-cross-entropy-shrinks-gradients")),
    ClaimRule("S003-13", supports=(_topk_is_argmax,)),
    ClaimRule("S003-14", caveats=(_accuracy_numpy_needs_cpu,),
              correction="accuracy = (top_class == labels.view(*top_class.shape)).float().mean() works on any device."),
    ClaimRule("S003-15", supports=(_no_grad_stops_tracking,)),
    ClaimRule("S003-16", supports=("modes.dropout-eval-is-identity", "modes.eval-keeps-autograd")),
    ClaimRule("S003-17", supports=("training.zero-grad-sets-none", _backward_fills_grads)),
    ClaimRule("S003-18", refutes=("training.sgd-default-lr",),
              correction="Each optimizer has its own default; torch.optim.SGD's lr defaults to 0.001. Set lr explicitly."),
    ClaimRule("S003-19", supports=("training.state-dict-round-trip",)),
    ClaimRule("S003-20", supports=("training.load-other-architecture-raises",), caveats=("training.load-other-architecture-raises",),
              correction="Keys and shapes must match, not the architecture: parameter-free layers may differ, and "
                         "strict=False loads what matches and returns missing/unexpected keys."),
    ClaimRule("S003-21", supports=(_validation_minimum_before_training_minimum,)),
    ClaimRule("S003-22", supports=("modes.dropout-eval-is-identity",)),
    ClaimRule("S004-01", supports=("padding.seed-004-flat-features",), caveats=("padding.seed-004-flat-features",),
              correction="32*4 fits only 8×8 (or 9×9) inputs; compute it: torchfacts.padding.flat_features(features, (1, H, W)) "
                         "(4608 for 28×28)."),
    ClaimRule("S004-02", refutes=(_seed_004_output_is_relu,),
              correction="Return raw logits (no ReLU) for CrossEntropyLoss: return self.fc1(x)."),
    ClaimRule("S004-03", supports=("views.flatten-contiguous-is-view",), caveats=("views.batch-view-vs-flatten",),
              correction="x.flatten(1) works for every layout; x.view(x.size(0), -1) fails on non-viewable batches."),
    ClaimRule("S004-04", supports=("views.unsqueeze-is-view",)),
    ClaimRule("S004-05", supports=(_backward_fills_grads,), caveats=("training.backward-accumulates",),
              correction="Zero the gradients before each backward pass: zero_grad, forward, loss, backward, step."),
]}
