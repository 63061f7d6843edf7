"""The NumPy bridge: share memory when possible, copy only when told, explain why.

``torch.from_numpy`` and ``Tensor.numpy()`` share memory — but only on the CPU,
without autograd, for dtypes both libraries know, with non-negative strides
in native byte order and without a lazy conjugate/negative bit. These helpers
follow NumPy 2's ``copy`` keyword (``np.asarray(x, copy=...)``):

* ``copy=False`` — share or raise ``ValueError`` saying why and what to do;
* ``copy=None`` (default) — share when possible, otherwise copy;
* ``copy=True`` — always copy.

>>> import numpy as np, torch
>>> a = np.arange(3.0)
>>> t = from_numpy(a, copy=False)
>>> t[0] = 7.0; a[0]                                      # shared both ways
np.float64(7.0)
>>> from_numpy(a[::-1], copy=False)
Traceback (most recent call last):
...
ValueError: array has negative strides (-8,), which a tensor cannot have; pass copy=None or copy=True to copy it, or use np.ascontiguousarray(array)
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import torch

from torchfacts.views import overlaps

__all__ = ["to_numpy", "from_numpy", "shares_memory", "sharing_problem", "dtype_table"]


def _check_copy(copy: object) -> bool | None:
    if copy is not None and not isinstance(copy, bool):
        raise TypeError(f"copy must be None, True or False, got {copy!r}")
    return copy


def _check_tensor(tensor: object) -> torch.Tensor:
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    return tensor


def _check_array(array: object) -> np.ndarray:
    if not isinstance(array, np.ndarray):
        raise TypeError(f"array must be a numpy.ndarray, got {type(array).__name__}")
    return array


@lru_cache(maxsize=None)
def _numpy_dtype_of(dtype: torch.dtype) -> np.dtype | None:
    """The NumPy dtype ``Tensor.numpy()`` gives for ``dtype``, asked of torch itself."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental and deprecated dtypes warn on creation
            return torch.empty(0, dtype=dtype).numpy().dtype
    except (TypeError, RuntimeError):  # no NumPy dtype, or not even an ordinary tensor (quantized)
        return None


@lru_cache(maxsize=None)
def _torch_dtype_of(dtype: np.dtype) -> torch.dtype | None:
    """The torch dtype ``torch.from_numpy`` gives for native-order ``dtype``, asked of torch."""
    try:
        return torch.from_numpy(np.empty(0, dtype=dtype.newbyteorder("="))).dtype
    except TypeError:
        return None


def sharing_problem(obj: torch.Tensor | np.ndarray) -> str | None:
    """Why ``obj`` cannot share memory across the bridge, or ``None`` if it can.

    >>> import torch
    >>> sharing_problem(torch.zeros(2)) is None
    True
    >>> sharing_problem(torch.zeros(2, requires_grad=True))
    'tensor requires grad; call .detach() first (or work under torch.no_grad())'
    """
    if isinstance(obj, torch.Tensor):
        # The first two cannot be fixed by copying, so they come first.
        if obj.layout != torch.strided:
            return f"tensor has layout {obj.layout}; call .to_dense() first"
        if _numpy_dtype_of(obj.dtype) is None:
            return f"{obj.dtype} has no NumPy dtype; convert first, e.g. .float()"
        if obj.device.type != "cpu":
            return f"tensor is on {obj.device}; NumPy reads CPU memory only, and .cpu() copies"
        if obj.requires_grad and torch.is_grad_enabled():
            return "tensor requires grad; call .detach() first (or work under torch.no_grad())"
        if obj.is_conj():
            return "tensor has its conjugate bit set; .resolve_conj() materializes it (a copy)"
        if obj.is_neg():
            return "tensor has its negative bit set; .resolve_neg() materializes it (a copy)"
        return None
    if not isinstance(obj, np.ndarray):
        raise TypeError(f"obj must be a torch.Tensor or numpy.ndarray, got {type(obj).__name__}")
    array = obj
    if _torch_dtype_of(array.dtype) is None:
        return f"NumPy dtype {array.dtype} has no torch dtype"
    if not array.dtype.isnative:
        return f"array has non-native byte order ({array.dtype.str}); torch cannot byte-swap in place"
    if any(s < 0 for s in array.strides):
        return f"array has negative strides {array.strides}, which a tensor cannot have"
    if any(s % array.itemsize for s in array.strides):
        return f"array strides {array.strides} are not multiples of its itemsize {array.itemsize}"
    if not array.flags.writeable:
        return "array is read-only, and a tensor could write to it"
    return None


def to_numpy(tensor: torch.Tensor, *, copy: bool | None = None) -> np.ndarray:
    """``tensor`` as a NumPy array: shared when possible (see module doc for ``copy``).

    >>> import torch
    >>> t = torch.arange(6.0).reshape(2, 3).t()
    >>> a = to_numpy(t, copy=False)
    >>> a.strides == tuple(s * 4 for s in t.stride()), shares_memory(t, a)
    (True, True)
    >>> shares_memory(t, to_numpy(t, copy=True))
    False
    """
    _check_tensor(tensor)
    copy = _check_copy(copy)
    problem = sharing_problem(tensor)
    if problem and (tensor.layout != torch.strided or _numpy_dtype_of(tensor.dtype) is None):
        raise TypeError(f"tensor cannot become a NumPy array: {problem}")
    if problem and copy is False:
        raise ValueError(f"cannot share memory with NumPy: {problem}; pass copy=None or copy=True to copy")
    if problem:
        # force=True detaches, moves to the CPU and resolves conj/neg bits. For a CPU
        # tensor that requires grad that is still shared memory, which would let
        # NumPy writes bypass autograd, so copy it.
        forced = tensor.numpy(force=True)
        return forced.copy() if overlaps(tensor, forced) else forced
    array = tensor.numpy()
    return array.copy() if copy else array


def from_numpy(array: np.ndarray, *, copy: bool | None = None) -> torch.Tensor:
    """``array`` as a CPU tensor: shared when possible (see module doc for ``copy``).

    >>> import numpy as np
    >>> a = np.arange(6, dtype=np.int32).reshape(2, 3)[:, ::2]
    >>> t = from_numpy(a, copy=False)
    >>> t.stride(), shares_memory(t, a)
    ((3, 2), True)
    >>> from_numpy(np.array(["a"]))
    Traceback (most recent call last):
    ...
    TypeError: array cannot become a tensor: NumPy dtype <U1 has no torch dtype
    """
    _check_array(array)
    copy = _check_copy(copy)
    problem = sharing_problem(array)
    if problem and _torch_dtype_of(array.dtype) is None:
        raise TypeError(f"array cannot become a tensor: {problem}")
    if problem and copy is False:
        fix = "np.ascontiguousarray(array)" if "strides" in problem else "array.copy()"
        raise ValueError(f"{problem}; pass copy=None or copy=True to copy it, or use {fix}")
    if problem or copy:
        # A C-contiguous, native-order, writable copy is always shareable.
        array = np.array(array, dtype=array.dtype.newbyteorder("="), order="C", copy=True)
    return torch.from_numpy(array)


def shares_memory(tensor: torch.Tensor, array: np.ndarray) -> bool:
    """Whether some element of ``tensor`` and of ``array`` use the same bytes.

    Exact, like ``numpy.shares_memory`` (see :func:`torchfacts.views.overlaps`).

    >>> import numpy as np
    >>> a = np.arange(4.0)
    >>> shares_memory(from_numpy(a[:2]), a[2:]), shares_memory(from_numpy(a), a[2:])
    (False, True)
    """
    return overlaps(_check_tensor(tensor), _check_array(array))


def dtype_table() -> list[tuple[str, str, str]]:
    """Every torch dtype and what ``Tensor.numpy()`` makes of it, asked of the installed torch.

    Rows are ``(torch dtype, NumPy dtype or '-', round trip through from_numpy)``.

    >>> rows = {t: (n, back) for t, n, back in dtype_table()}
    >>> rows["torch.float32"], rows["torch.bfloat16"]
    (('float32', 'torch.float32'), ('-', '-'))
    """
    dtypes = sorted({v for v in vars(torch).values() if isinstance(v, torch.dtype)}, key=str)
    rows = []
    for dtype in dtypes:
        numpy_dtype = _numpy_dtype_of(dtype)
        back = _torch_dtype_of(numpy_dtype) if numpy_dtype is not None else None
        rows.append((str(dtype), str(numpy_dtype) if numpy_dtype is not None else "-", str(back) if back else "-"))
    return rows
