"""Facts about the NumPy bridge: when memory is shared, and when it is not.

The detector for "shared" writes through each side and looks at the other —
sharing must work both ways. Copy facts use the same detector expecting no
sharing, so their negative controls are the sharing near-misses.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch

from torchfacts.facts.registry import detects, expect, fact, raises
from torchfacts.views import overlaps

SENTINEL = -7
CPU_ONLY = ("cpu",)  # NumPy memory is CPU memory: these facts have nothing to show elsewhere


def _shared(tensor: torch.Tensor, array: np.ndarray, expr: str) -> tuple[bool, str]:
    """(do writes through each side show in the other?, what was observed)."""
    index = (0,) * array.ndim
    saved = array[index].item()
    array[index] = SENTINEL
    array_to_tensor = tensor[index].item() == SENTINEL
    array[index] = saved
    tensor[index] = SENTINEL + 1
    tensor_to_array = array[index].item() == SENTINEL + 1
    tensor[index] = saved
    observed = f"{expr}: array write shows in tensor {array_to_tensor}, tensor write shows in array {tensor_to_array}"
    return array_to_tensor and tensor_to_array, observed


def shares(tensor: torch.Tensor, array: np.ndarray, expr: str) -> str:
    both, observed = _shared(tensor, array, expr)
    return expect(both, observed)


def copies(tensor: torch.Tensor, array: np.ndarray, expr: str) -> str:
    both, observed = _shared(tensor, array, expr)
    return expect(not both, observed)


def _array(dtype=np.float64) -> np.ndarray:
    return np.arange(6, dtype=dtype).reshape(2, 3)


@fact("interop.from-numpy-shares", devices=CPU_ONLY, seeds=("S003-03",),
      claim="`torch.from_numpy(a)` shares a's memory: in-place changes to either show in the other.")
def from_numpy_shares(device):
    a = _array()
    return shares(torch.from_numpy(a), a, "torch.from_numpy(a)")


@from_numpy_shares.control
def _(device):
    a = _array()
    return detects(lambda: shares(torch.tensor(a), a, "torch.tensor(a)"))


@fact("interop.numpy-shares", devices=CPU_ONLY, seeds=("S003-04",),
      claim="`t.numpy()` of a CPU tensor shares its memory both ways, for a transposed tensor too.")
def numpy_shares(device):
    t = torch.arange(6.0).reshape(2, 3)
    return f"{shares(t, t.numpy(), 't.numpy()')}; {shares(t.t(), t.t().numpy(), 't.t().numpy()')}"


@numpy_shares.control
def _(device):
    t = torch.arange(6.0).reshape(2, 3)
    return detects(lambda: shares(t, t.numpy().copy(), "t.numpy().copy()"))


@fact("interop.tensor-copies", devices=CPU_ONLY, claim="`torch.tensor(a)` always copies the array.")
def tensor_copies(device):
    a = _array()
    return copies(torch.tensor(a), a, "torch.tensor(a)")


@tensor_copies.control
def _(device):
    a = _array()
    return detects(lambda: copies(torch.from_numpy(a), a, "torch.from_numpy(a)"))


@fact("interop.as-tensor-shares-same-dtype", devices=CPU_ONLY, claim="`torch.as_tensor(a)` shares memory when dtype and device already match.")
def as_tensor_shares(device):
    a = _array()
    return shares(torch.as_tensor(a), a, "torch.as_tensor(a)")


@as_tensor_shares.control
def _(device):
    a = _array()
    return detects(lambda: shares(torch.as_tensor(a, dtype=torch.float32), a, "torch.as_tensor(a, dtype=torch.float32)"))


@fact("interop.as-tensor-copies-on-dtype-change", devices=CPU_ONLY, claim="`torch.as_tensor(a, dtype=...)` copies when the dtype changes.")
def as_tensor_copies(device):
    a = _array()
    return copies(torch.as_tensor(a, dtype=torch.float32), a, "torch.as_tensor(float64 a, dtype=torch.float32)")


@as_tensor_copies.control
def _(device):
    a = _array()
    return detects(lambda: copies(torch.as_tensor(a, dtype=torch.float64), a, "torch.as_tensor(a, dtype=torch.float64)"))


def _linear_refuses(array: np.ndarray, device) -> str:
    x = torch.from_numpy(array).to(device)
    return raises(RuntimeError, lambda: torch.nn.Linear(3, 2).to(device)(x), f"float32 nn.Linear on from_numpy's {x.dtype}")


@fact("interop.from-numpy-keeps-float64", seeds=("S003-03",),
      claim="`from_numpy` keeps NumPy's default float64, which a float32 `nn.Linear` refuses with a dtype error.")
def from_numpy_keeps_float64(device):
    return _linear_refuses(np.random.default_rng(0).random((1, 3)), device)


@from_numpy_keeps_float64.control
def _(device):
    return detects(lambda: _linear_refuses(np.random.default_rng(0).random((1, 3), dtype=np.float32), device))


@fact("interop.negative-strides-raise", devices=CPU_ONLY, seeds=("S003-03",),
      claim="`torch.from_numpy` of an array with negative strides (e.g. `a[::-1]`) raises ValueError.")
def negative_strides_raise(device):
    a = np.arange(5.0)
    return raises(ValueError, lambda: torch.from_numpy(a[::-1]), "torch.from_numpy(a[::-1])")


@negative_strides_raise.control
def _(device):
    a = np.arange(5.0)
    return detects(lambda: raises(ValueError, lambda: torch.from_numpy(a[::2]), "torch.from_numpy(a[::2])"))


_WARN_COUNT = """
import warnings, numpy as np, torch
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for _ in range(3):
        a = np.arange(3.0); a.setflags(write={writable})
        torch.from_numpy(a)
print(sum(issubclass(w.category, UserWarning) and "not writable" in str(w.message) for w in caught))
"""


def _warns_once(writable: bool) -> str:
    # A fresh process: torch warns about this once per process, so an earlier
    # call in this one would hide it.
    done = subprocess.run([sys.executable, "-c", _WARN_COUNT.format(writable=writable)],
                          capture_output=True, text=True, timeout=120)
    expect(done.returncode == 0, f"subprocess failed: {done.stderr.strip()[-300:]}")
    count = int(done.stdout.strip())
    kind = "writable" if writable else "read-only"
    return expect(count == 1, f"3 × torch.from_numpy of a {kind} array in a fresh process: {count} UserWarning(s)")


@fact("interop.readonly-warns-once", devices=CPU_ONLY,
      claim="`torch.from_numpy` of a non-writable array shares it anyway and warns (UserWarning) only once per process.")
def readonly_warns_once(device):
    return _warns_once(writable=False)


@readonly_warns_once.control
def _(device):
    return detects(lambda: _warns_once(writable=True))


def _numpy_of_grad_tensor(grad_mode: bool) -> str:
    t = torch.ones(3, requires_grad=True)
    with torch.set_grad_enabled(grad_mode):
        return raises(RuntimeError, t.numpy, f"t.numpy() with requires_grad=True, grad mode {grad_mode}")


@fact("interop.numpy-requires-grad-raises", devices=CPU_ONLY, seeds=("S003-04",),
      claim="`.numpy()` of a tensor that requires grad raises RuntimeError while grad mode is on; under `torch.no_grad()` it works and shares memory.")
def numpy_requires_grad_raises(device):
    refused = _numpy_of_grad_tensor(grad_mode=True)
    t = torch.ones(3, requires_grad=True)
    with torch.no_grad():
        allowed = shares(t.detach(), t.numpy(), "under no_grad: t.numpy()")
    return f"{refused}; {allowed}"


@numpy_requires_grad_raises.control
def _(device):
    return detects(lambda: _numpy_of_grad_tensor(grad_mode=False))


@fact("interop.numpy-cuda-raises", devices=("cuda",),
      claim="`.numpy()` of a CUDA tensor raises TypeError; `.cpu()` copies first.")
def numpy_cuda_raises(device):
    t = torch.ones(3, device=device)
    return raises(TypeError, t.numpy, "cuda_tensor.numpy()")


@numpy_cuda_raises.control
def _(device):
    t = torch.ones(3, device=device)
    return detects(lambda: raises(TypeError, t.cpu().numpy, "cuda_tensor.cpu().numpy()"))


@fact("interop.bfloat16-numpy-raises", devices=CPU_ONLY, claim="`.numpy()` of a bfloat16 tensor raises TypeError: NumPy has no bfloat16.")
def bfloat16_numpy_raises(device):
    t = torch.ones(3, dtype=torch.bfloat16)
    return raises(TypeError, t.numpy, "bfloat16_tensor.numpy()")


@bfloat16_numpy_raises.control
def _(device):
    t = torch.ones(3, dtype=torch.float16)
    return detects(lambda: raises(TypeError, t.numpy, "float16_tensor.numpy()"))


def _force_copies(t: torch.Tensor, expr: str) -> str:
    forced = t.numpy(force=True)
    copied = not overlaps(t, forced)
    equal = np.array_equal(forced, t.resolve_conj().cpu().numpy())
    return expect(copied and equal, f"{expr}.numpy(force=True): values equal {equal}, copied {copied}")


@fact("interop.numpy-force-copies-when-needed", claim="`.numpy(force=True)` copies when plain `.numpy()` would refuse (conjugate bit, GPU) and gives the right values.")
def numpy_force_copies(device):
    z = torch.tensor([1 + 2j, 3 - 1j], device=device).conj()
    return _force_copies(z, "z.conj()")


@numpy_force_copies.control
def _(device):
    return detects(lambda: _force_copies(torch.ones(3), "cpu_tensor"))


def _resize_refused(array: np.ndarray, expr: str) -> str:
    return raises(ValueError, lambda: array.resize(8), f"{expr}.resize(8)")


@fact("interop.resize-shared-array-raises", devices=CPU_ONLY,
      claim="Resizing a NumPy array that a tensor shares raises ValueError (the tensor still points at its memory).")
def resize_shared_array_raises(device):
    a = np.zeros(4)
    t = torch.from_numpy(a)  # noqa: F841  (keeps a reference to a's memory)
    return _resize_refused(a, "a shared with a tensor:")


@resize_shared_array_raises.control
def _(device):
    return detects(lambda: _resize_refused(np.zeros(4), "an unshared array:"))


def _round_trip(array, expr: str) -> str:
    try:
        back = torch.from_numpy(array).numpy()
    except TypeError as refused:
        return expect(False, f"torch.from_numpy({expr}) raised TypeError: {refused}")
    kept = back.shape == array.shape and np.shares_memory(back, array) == (array.size > 0)
    return expect(kept, f"{expr} -> tensor -> array of shape {back.shape}, shape and memory kept {kept}")


@fact("interop.zero-dim-and-empty-round-trip", devices=CPU_ONLY,
      claim="0-d and empty arrays round-trip through `from_numpy` and `.numpy()` with their shape and memory.")
def zero_dim_and_empty_round_trip(device):
    return f"{_round_trip(np.array(5.0), 'np.array(5.0)')}; {_round_trip(np.zeros((0, 3)), 'np.zeros((0, 3))')}"


@zero_dim_and_empty_round_trip.control
def _(device):
    return detects(lambda: _round_trip(np.float64(5.0), "np.float64(5.0)  (a NumPy scalar, not an array)"))
