"""The ``torchfacts`` command line.

``torchfacts check`` runs every fact on every available device and exits 0
when all hold, 1 when any fails, 2 on bad arguments — so a project can pin the
torch behaviour it relies on in CI. ``list`` shows the catalogue and
``explain ID`` shows a fact's claim, the code that checks it and what it
observes on this machine.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import inspect
import json
import math
import os
import platform
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import torch
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import torchfacts
from torchfacts import padding
from torchfacts.facts import SEED_CLAIMS, FactResult, all_facts, get_fact, run_facts, topics
from torchfacts.facts.claims import VERDICTS
from torchfacts.facts.registry import KNOWN_DEVICES, available_devices, device_available

SEED_IDS = sorted({c.seed for c in SEED_CLAIMS.values()})
VERDICT_STYLE = {"holds": "green", "holds-with-caveat": "yellow", "outdated": "magenta", "wrong": "red"}
STATUS_STYLE = {"pass": "green", "fail": "red", "error": "magenta", "skipped": "yellow"}


class UsageError(Exception):
    """Bad arguments: reported as one line with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)  # '--dev' must not silently mean '--device'
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # argparse prints usage + message; we want one line
        raise UsageError(message)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="torchfacts", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"torchfacts {torchfacts.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = commands.add_parser("check", help="run the facts and report per device")
    check.add_argument("--device", choices=[*KNOWN_DEVICES, "all"], default=None,
                       help="device to check (default: every available one; 'all' also lists unavailable ones as skipped)")
    check.add_argument("--topic", nargs="+", action="extend", metavar="T", help="only these topics")
    check.add_argument("--format", choices=["table", "json", "markdown"], default="table")
    check.add_argument("--output", metavar="FILE", help="write the report to FILE instead of standard output")

    listing = commands.add_parser("list", help="list the facts")
    listing.add_argument("--topic", nargs="+", action="extend", metavar="T", help="only these topics")

    explain = commands.add_parser("explain", help="show a fact's claim, code and live evidence")
    explain.add_argument("id", help="a fact id (views.view-shares-storage) or a seed claim id (S000-07)")

    claims = commands.add_parser("claims", help="verdicts for the seed notes' claims, computed by running code")
    claims.add_argument("--seed", nargs="+", action="extend", choices=SEED_IDS, metavar="SEED",
                        help=f"only claims from these seed notes ({', '.join(SEED_IDS)})")
    claims.add_argument("--verdict", nargs="+", action="extend", choices=VERDICTS, metavar="V",
                        help=f"only these verdicts ({', '.join(VERDICTS)})")
    claims.add_argument("--format", choices=["table", "json", "markdown"], default="table")
    claims.add_argument("--output", metavar="FILE", help="write the report to FILE instead of standard output")

    docs = commands.add_parser("docs", help="generate the learners' fact sheet (Markdown)")
    docs.add_argument("--output", metavar="FILE", default="docs/FACTS.md", help="default: docs/FACTS.md")

    bench = commands.add_parser("bench", help="run the benchmarks and render a report")
    bench.add_argument("--device", choices=["cpu", "cuda"], default=None, help="only this device (default: every available one)")
    bench.add_argument("--quick", action="store_true", help="fewer sizes and rounds: under a minute")
    bench.add_argument("--output", default="bench-report", metavar="DIR", help="default: bench-report")

    padding = commands.add_parser("padding", help="output size and SAME padding of a conv/pool geometry")
    padding.add_argument("size", type=_ints, help="input size: N, or N,N for 2-D (N,N,N for 3-D)")
    padding.add_argument("kernel", type=_ints, help="kernel size, same form as SIZE")
    padding.add_argument("--stride", type=_ints, default=(1,), metavar="S")
    padding.add_argument("--dilation", type=_ints, default=(1,), metavar="D")
    padding.add_argument("--ceil-mode", action="store_true", help="pooling with ceil_mode=True")

    train = commands.add_parser("train", help="train a model with fit(): best checkpoint, early stopping, resume")
    train.add_argument("--model", choices=sorted(MODELS), default="convnet")
    train.add_argument("--dataset", choices=["digits", "mnist", "fake"], default="digits")
    train.add_argument("--data-dir", default="data", metavar="DIR", help="where MNIST's raw files are (default: data)")
    train.add_argument("--download", action="store_true", help="let torchvision download MNIST into --data-dir")
    train.add_argument("--epochs", type=int, default=15, metavar="N")
    train.add_argument("--batch-size", type=int, default=64, metavar="B")
    train.add_argument("--lr", type=float, default=3e-3, metavar="LR", help="Adam learning rate (default: 3e-3)")
    train.add_argument("--patience", type=int, default=None, metavar="P", help="early stopping after P epochs without improvement")
    train.add_argument("--device", default="cpu", metavar="D")
    train.add_argument("--checkpoint-dir", default=None, metavar="DIR")
    train.add_argument("--resume", action="store_true", help="continue from DIR/last.pt")
    train.add_argument("--freeze", action="append", default=[], metavar="PATTERN",
                       help="freeze submodules whose names match (fnmatch, e.g. 'features*'); repeatable")
    train.add_argument("--seed", type=int, default=0, metavar="S")
    train.add_argument("--plot", default=None, metavar="FILE", help="write loss/accuracy curves to a PNG")
    return parser


def _ints(text: str) -> tuple[int, ...]:
    """'7' -> (7,), '224,224' -> (224, 224)."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}") from None


def _selected_topics(requested: list[str] | None) -> list[str] | None:
    if requested is None:
        return None
    known = topics()
    unknown = [t for t in requested if t not in known]
    if unknown:
        raise UsageError(f"unknown topic {unknown[0]!r}; choose from: {', '.join(known)}")
    return requested


def _device_name(device: str) -> str:
    if not device_available(device):
        return "not available"
    if device == "cuda":
        return torch.cuda.get_device_name()
    if device == "mps":
        return "Apple Metal (MPS)"
    try:  # Linux names the CPU model here; platform.processor() is often empty there
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def _summary(results: list[FactResult]) -> dict[str, int]:
    return {status: sum(r.status == status for r in results) for status in STATUS_STYLE}


def _to_json(results: list[FactResult], devices: list[str]) -> str:
    claims = {f.id: f for f in all_facts()}
    report = {
        "torchfacts": torchfacts.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "devices": {d: {"available": device_available(d), "name": _device_name(d)} for d in devices},
        "summary": _summary(results),
        "facts": [
            {
                "id": r.fact_id,
                "topic": r.topic,
                "claim": claims[r.fact_id].claim,
                "seeds": list(claims[r.fact_id].seeds),
                "device": r.device,
                "status": r.status,
                "evidence": r.evidence,
                "control": r.control,
                "control_evidence": r.control_evidence,
                "duration_s": round(r.duration_s, 6),
            }
            for r in results
        ],
    }
    return json.dumps(report, indent=2) + "\n"


def _to_markdown(results: list[FactResult]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        f"# torchfacts check — torch {torch.__version__}",
        "",
        "| fact | device | status | evidence | negative control | ms |",
        "|---|---|---|---|---|---:|",
    ]
    lines += [
        f"| `{r.fact_id}` | {r.device} | {r.status} | {cell(r.evidence)} | {r.control or '—'} | {r.duration_s * 1e3:.1f} |"
        for r in results
    ]
    counts = _summary(results)
    lines += ["", ", ".join(f"{n} {s}" for s, n in counts.items())]
    return "\n".join(lines) + "\n"


def _to_table(results: list[FactResult], console: Console) -> None:
    table = Table(title=f"torchfacts check — torch {torch.__version__}")
    for column in ("fact", "device", "status", "evidence", "control", "ms"):
        table.add_column(column, justify="right" if column == "ms" else "left")
    for r in results:
        style = STATUS_STYLE[r.status]
        table.add_row(r.fact_id, r.device, f"[{style}]{r.status}[/]", escape(r.evidence), r.control or "—",
                      f"{r.duration_s * 1e3:.1f}")
    console.print(table)
    counts = _summary(results)
    console.print(", ".join(f"[{STATUS_STYLE[s]}]{n} {s}[/]" for s, n in counts.items()))


def _open_output(path: str | None):
    if path is None:
        return contextlib.nullcontext(sys.stdout)
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as problem:
        raise UsageError(f"cannot write --output {path!r}: {problem.strerror}") from None


def _check(args: argparse.Namespace) -> int:
    chosen = _selected_topics(args.topic)
    if args.device is None:
        devices = available_devices()
    elif args.device == "all":
        devices = list(KNOWN_DEVICES)
    else:
        devices = [args.device]
    for device in devices:
        if not device_available(device):
            print(f"torchfacts: {device} is not available on this machine; its facts are reported as skipped",
                  file=sys.stderr)
    with _open_output(args.output) as out:  # opened first: a bad path fails before the run
        results = run_facts(all_facts(chosen), devices)
        if args.format == "json":
            out.write(_to_json(results, devices))
        elif args.format == "markdown":
            out.write(_to_markdown(results))
        else:
            _to_table(results, Console(file=out, width=160 if args.output else None))
    return 1 if any(r.status in ("fail", "error") for r in results) else 0


def _list(args: argparse.Namespace) -> int:
    console = Console()
    table = Table(title="torchfacts catalogue")
    for column in ("id", "claim", "seeds"):
        table.add_column(column)
    for f in all_facts(_selected_topics(args.topic)):
        table.add_row(f.id, escape(f.claim), ", ".join(f.seeds))
    console.print(table)
    return 0


def _explain_claim(claim_id: str) -> int:
    from torchfacts.facts.claims import RULES, evaluate_claim, probe_source

    v = evaluate_claim(claim_id)
    rule = RULES[claim_id]
    out = [f"{v.id}  (seed {v.seed})", "", f"Claim: {v.claim}", "", f"Verdict on torch {torch.__version__}: {v.verdict}",
           v.explanation]
    if v.correction:
        out += ["", f"Correction: {v.correction}"]
    out += ["", "Evidence:"] + [f"  {line}" for line in v.evidence]
    out += ["", "Probes (the code behind the verdict):"]
    for role, probes in (("supports", rule.supports), ("caveat", rule.caveats), ("refutes", rule.refutes)):
        out += [f"--- {role}: {probe_source(p)}" for p in probes]
    print("\n".join(out))
    return 0


def _explain(args: argparse.Namespace) -> int:
    if args.id in SEED_CLAIMS:
        return _explain_claim(args.id)
    try:
        f = get_fact(args.id)
    except ValueError as unknown:
        raise UsageError(str(unknown)) from None
    out = [f"{f.id}  (topic: {f.topic})", "", f"Claim: {f.claim}", ""]
    if f.seeds:
        out.append("Seed claims:")
        out += [f"  {s} (seed {SEED_CLAIMS[s].seed}): {SEED_CLAIMS[s].text}" for s in f.seeds]
        out.append("")
    out += ["Check:", inspect.getsource(f.check), "Negative control:", inspect.getsource(f.negative_control)]
    out.append(f"Live evidence (torch {torch.__version__}):")
    for r in run_facts([f], available_devices()):
        out.append(f"  [{r.device}] {r.status}: {r.evidence}")
        out.append(f"  [{r.device}] negative control {r.control}: {r.control_evidence}")
    print("\n".join(out))
    return 0


def _padding(args: argparse.Namespace) -> int:
    given = (args.size, args.kernel, args.stride, args.dilation)
    dims = max(len(v) for v in given)
    if dims > 3:
        raise UsageError(f"at most 3 spatial dimensions, got {dims}")

    def show(values: tuple[int, ...]):  # a 1-D geometry prints as plain numbers
        return values[0] if dims == 1 else values

    # One number stands for every dimension; mismatched lengths are left for the helpers to report.
    full = [v * dims if len(v) == 1 else v for v in given]
    size, kernel, stride, dilation = (show(v) for v in full)
    try:
        pads = padding.same_padding(size, kernel, stride, dilation)
        static = padding.is_static_same(kernel, stride, dilation)
    except ValueError as bad:
        raise UsageError(str(bad)) from None

    def attempt(func, **kwargs) -> str:
        try:
            return str(func(size, kernel, stride, dilation=dilation, **kwargs))
        except ValueError as impossible:
            return f"not possible: {impossible}"

    pairs = pads if dims > 1 else (pads,)
    same_out = show(tuple(math.ceil(n / s) for n, s in zip(full[0], full[2])))
    if static:
        layer = f"nn.Conv{dims}d(C_in, C_out, {kernel}, stride={stride}, dilation={dilation}, padding={show(tuple(b for b, _ in pairs))})"
    else:
        layer = f"torchfacts.padding.conv_same(C_in, C_out, {kernel}, stride={stride}, dilation={dilation}, dims={dims})" \
                f"  -> Conv{dims}dSame, pads on the fly"
    print("\n".join([
        f"input {size}, kernel {kernel}, stride {stride}, dilation {dilation}",
        f"conv output, no padding:      {attempt(padding.conv_output_size)}",
        f"max-pool output:              {attempt(padding.pool_output_size, ceil_mode=args.ceil_mode)}  (ceil_mode={args.ceil_mode})",
        f"SAME output:                  {same_out}",
        f"SAME padding (before, after): {pads}",
        f"static SAME:                  {'yes: symmetric, whatever the input size' if static else 'no: stride > 1 or an even effective kernel'}",
        f"torch layer:                  {layer}",
    ]))
    return 0


def _claims(args: argparse.Namespace) -> int:
    from torchfacts.facts.claims import evaluate_claims

    with _open_output(args.output) as out:
        verdicts = evaluate_claims(args.seed, args.verdict)
        if args.format == "json":
            out.write(json.dumps({"torch": torch.__version__, "claims": [asdict(v) for v in verdicts]}, indent=2) + "\n")
        elif args.format == "markdown":
            from torchfacts.docs import claims_markdown

            out.write(claims_markdown(verdicts))
        else:
            table = Table(title=f"seed claims — torch {torch.__version__}")
            for column in ("id", "verdict", "claim", "correction"):
                table.add_column(column)
            for v in verdicts:
                table.add_row(v.id, f"[{VERDICT_STYLE[v.verdict]}]{v.verdict}[/]", escape(v.claim), escape(v.correction))
            console = Console(file=out, width=160 if args.output else None)
            console.print(table)
            console.print(", ".join(f"{sum(v.verdict == k for v in verdicts)} {k}" for k in VERDICTS))
    return 0


def _docs(args: argparse.Namespace) -> int:
    from torchfacts.docs import fact_sheet

    path = Path(args.output)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as problem:
        raise UsageError(f"cannot write --output {args.output!r}: {problem.strerror}") from None
    with _open_output(args.output) as out:  # opened before the (slow) generation: a bad path fails at once
        out.write(fact_sheet())
    print(f"wrote {path}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from torchfacts import bench

    if args.device and not device_available(args.device):
        print(f"torchfacts: {args.device} is not available on this machine; its benchmarks are skipped", file=sys.stderr)
        return 0
    try:
        results = bench.run_benchmarks(Path(args.output), device=args.device, quick=args.quick)
    except (FileNotFoundError, OSError) as problem:
        raise UsageError(str(problem)) from None
    except RuntimeError as failed:
        print(f"torchfacts: {failed}", file=sys.stderr)
        return 1
    print(f"wrote {bench.render_report(results, Path(args.output))}")
    return 0


MODELS = {"mlp": "MLP", "convnet": "ConvNet", "resnet": "TinyResNet"}


def _train(args: argparse.Namespace) -> int:
    from torch import nn

    from torchfacts import data, distributed, models, training
    from torchfacts.modes import freeze

    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        raise UsageError(f"--epochs and --batch-size must be >= 1 and --lr > 0, got {args.epochs}, {args.batch_size}, {args.lr}")
    if args.resume and args.checkpoint_dir is None:
        raise UsageError("--resume needs --checkpoint-dir")
    try:
        device = torch.device(args.device)
    except RuntimeError:
        raise UsageError(f"unknown --device {args.device!r}") from None
    if device.type in KNOWN_DEVICES and not device_available(device.type):
        raise UsageError(f"--device {args.device}: {device.type} is not available on this machine")

    training.seed_everything(args.seed)
    if args.dataset == "digits":
        loaders, shape = data.digits(args.batch_size, seed=args.seed), (1, 8, 8)
    elif args.dataset == "fake":
        loaders, shape = data.fake(batch_size=args.batch_size, seed=args.seed), (1, 8, 8)
    else:
        try:
            loaders, shape = data.mnist(args.data_dir, args.batch_size, seed=args.seed, download=args.download), (1, 28, 28)
        except FileNotFoundError as missing:
            raise UsageError(str(missing)) from None
    if args.model == "mlp":
        model = models.MLP(in_features=shape[0] * shape[1] * shape[2])
    elif args.model == "convnet":
        model = models.ConvNet(10, in_channels=shape[0], image_size=shape[1])
    else:
        model = models.TinyResNet(10, in_channels=shape[0])
    matched = [name for name, module in model.named_modules() if name and any(fnmatch.fnmatch(name, p) for p in args.freeze)]
    if args.freeze and not matched:
        names = [name for name, _ in model.named_modules() if name]
        raise UsageError(f"--freeze {args.freeze} matches no submodule; names are: {', '.join(names)}")
    for name in matched:
        freeze(model.get_submodule(name))
    model.to(device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=args.lr)

    rank = os.environ.get("RANK", "0") if distributed.requested() else None
    prefix = f"[rank {rank}] " if rank is not None else ""

    def report(record) -> None:
        if rank not in (None, "0"):
            return  # one progress report: rank 0's (metrics are averaged over ranks)
        print(f"{prefix}epoch {record.epoch:3d}  train loss {record.train_loss:.4f}  val loss {record.val_loss:.4f}  "
              f"val accuracy {record.val_accuracy:.4f}  ({record.seconds:.1f} s)", flush=True)

    print(f"{prefix}{MODELS[args.model]} on {args.dataset} ({device}); frozen: {matched or 'nothing'}")
    try:
        history = training.fit(model, *loaders, loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer, epochs=args.epochs,
                               device=device, checkpoint_dir=args.checkpoint_dir, patience=args.patience,
                               resume=args.resume, on_epoch=report)
    except training.TrainingDiverged as diverged:
        print(f"torchfacts: {diverged}", file=sys.stderr)
        return 1
    except training.CheckpointError as broken:
        raise UsageError(str(broken)) from None
    if history.epochs:
        print(f"{prefix}final validation accuracy: {history.epochs[-1].val_accuracy:.4f}")
        print(f"{prefix}best epoch: {history.best_epoch} (val loss {history.best_loss:.4f})"
              + (", stopped early" if history.stopped_early else ""))
    print(f"{prefix}best checkpoint: {history.best_checkpoint or '(none: pass --checkpoint-dir to keep one)'}")
    if args.plot and rank in (None, "0"):
        print(f"plot: {history.plot(args.plot)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``torchfacts`` and ``python -m torchfacts``; returns the exit code."""
    try:
        args = _build_parser().parse_args(argv)
        commands = {"check": _check, "list": _list, "explain": _explain, "padding": _padding, "train": _train,
                    "claims": _claims, "docs": _docs, "bench": _bench}
        return commands[args.command](args)
    except UsageError as problem:
        print(f"torchfacts: error: {problem}", file=sys.stderr)
        return 2
