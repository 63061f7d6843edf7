"""Views, strides and contiguity: what ``Tensor.view`` really does.

A tensor is a block of memory (its *storage*) plus three pieces of metadata:
``shape``, ``stride`` (how many storage elements to step to move one index
along each dimension) and ``storage_offset`` (where element ``[0, 0, ...]``
lives). A *view* is a new tensor with new metadata over the same storage —
nothing is copied, so a write through the view shows in the original.

The helpers here compute what torch would do, in plain Python, so that a
learner can read the rule; the test suite checks them against torch itself.

>>> import torch
>>> x = torch.arange(6).reshape(2, 3)
>>> view_strides(x.shape, x.stride(), (3, 2))      # what x.view(3, 2) gets
(2, 1)
>>> view_strides(x.t().shape, x.t().stride(), (6,)) is None   # x.t().view(6) fails
True
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch

from torchfacts._validate import as_int, as_int_tuple

__all__ = [
    "contiguous_strides",
    "is_contiguous",
    "infer_shape",
    "view_strides",
    "can_view",
    "shares_storage",
    "overlaps",
    "describe",
]


def _shape_and_strides(shape: Any, strides: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    shape = as_int_tuple(shape, "shape", minimum=0)
    strides = as_int_tuple(strides, "strides", minimum=0)
    if len(strides) != len(shape):
        raise ValueError(
            f"strides must have one entry per dimension of shape {shape} "
            f"({len(shape)} entries), got {strides} ({len(strides)} entries)"
        )
    return shape, strides


def contiguous_strides(shape: Sequence[int]) -> tuple[int, ...]:
    """Strides of a freshly allocated (C-contiguous) tensor of ``shape``.

    The last dimension has stride 1 and each earlier one steps over a whole
    row of the next. A size-0 dimension counts as size 1 here, as in torch.

    >>> contiguous_strides((2, 3, 4))
    (12, 4, 1)
    >>> contiguous_strides((2, 0, 3))    # same as torch.empty(2, 0, 3).stride()
    (3, 3, 1)
    """
    shape = as_int_tuple(shape, "shape", minimum=0)
    strides = []
    step = 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


def is_contiguous(shape: Sequence[int], strides: Sequence[int]) -> bool:
    """Whether torch calls this layout contiguous (``Tensor.is_contiguous()``).

    Torch's rule: a tensor with no elements is contiguous; otherwise, walking
    from the last dimension, each dimension of size > 1 must have exactly the
    stride of a C-contiguous tensor. Size-1 dimensions are never stepped over,
    so their strides do not matter.

    >>> is_contiguous((2, 3), (3, 1))
    True
    >>> is_contiguous((2, 3), (1, 2))    # a transpose
    False
    >>> is_contiguous((2, 1, 3), (3, 99, 1))   # size-1 stride is ignored
    True
    """
    shape, strides = _shape_and_strides(shape, strides)
    if math.prod(shape) == 0:
        return True
    expected = 1
    for size, stride in zip(reversed(shape), reversed(strides)):
        if size == 1:
            continue
        if stride != expected:
            return False
        expected *= size
    return True


def infer_shape(shape: Sequence[int], numel: int) -> tuple[int, ...]:
    """Resolve a single ``-1`` in ``shape`` for a tensor of ``numel`` elements.

    Raises ``ValueError`` in exactly the cases where torch's ``view``/``reshape``
    raise: two ``-1``, a size below ``-1``, a product that does not match, or a
    ``-1`` that is ambiguous because the other sizes multiply to 0.

    >>> infer_shape((2, -1), 12)
    (2, 6)
    >>> infer_shape((5, -1), 12)
    Traceback (most recent call last):
    ...
    ValueError: shape (5, -1) is invalid for input of size 12
    """
    shape = as_int_tuple(shape, "shape")
    numel = as_int(numel, "numel", minimum=0)
    inferred = [d for d, size in enumerate(shape) if size == -1]
    if len(inferred) > 1:
        raise ValueError(f"shape {shape}: only one dimension can be inferred (-1), got {len(inferred)}")
    bad = [size for size in shape if size < -1]
    if bad:
        raise ValueError(f"shape {shape}: invalid shape dimension {bad[0]}; sizes must be >= 0, or -1 once")
    known = math.prod(size for size in shape if size != -1)
    if not inferred:
        if known != numel:
            raise ValueError(f"shape {shape} is invalid for input of size {numel}")
        return shape
    if known == 0:
        # Any size would do for the -1, so torch refuses to guess.
        raise ValueError(
            f"cannot reshape tensor of {numel} elements into shape {shape} because the "
            "unspecified dimension size -1 can be any value and is ambiguous"
        )
    if numel % known:
        raise ValueError(f"shape {shape} is invalid for input of size {numel}")
    resolved = list(shape)
    resolved[inferred[0]] = numel // known
    return tuple(resolved)


def view_strides(
    shape: Sequence[int], strides: Sequence[int], new_shape: Sequence[int]
) -> tuple[int, ...] | None:
    """Strides that ``tensor.view(new_shape)`` produces, or ``None`` if torch refuses.

    The rule (a Python mirror of ATen's ``computeStride``):

    1. Split the old dimensions into *chunks*: runs of neighbouring dimensions
       that are laid out as one contiguous stretch, i.e. where
       ``stride[d] == size[d+1] * stride[d+1]``. Size-1 dimensions never end a
       chunk, since nobody steps over them.
    2. A view is possible exactly when the new dimensions can be grouped, from
       the right, into groups whose element counts match those chunks one by
       one. Inside a group, strides are the chunk's base stride times the
       product of the sizes to the right.
    3. Special cases: a 0-d tensor can be viewed as anything of one element
       (all strides 1); a tensor with no elements can always be viewed, keeping
       its strides if the shape is unchanged and taking contiguous strides
       otherwise.

    ``new_shape`` may hold one ``-1``; impossible shapes raise ``ValueError``
    (see :func:`infer_shape`). ``None`` means the *layout* forbids the view —
    that is when torch says "use .reshape(...) instead".

    >>> view_strides((4, 6), (6, 1), (2, 2, 6))
    (12, 6, 1)
    >>> view_strides((4, 6), (1, 4), (24,)) is None    # transposed storage
    True
    >>> view_strides((4, 6), (1, 4), (4, 2, 3))        # splitting one chunk is fine
    (1, 12, 4)
    """
    shape, strides = _shape_and_strides(shape, strides)
    numel = math.prod(shape)
    try:
        new_shape = infer_shape(as_int_tuple(new_shape, "new_shape"), numel)
    except ValueError as impossible:
        raise ValueError(f"new_shape: {impossible}") from None

    if not shape:  # 0-d: one element, any all-ones shape, strides all 1
        return tuple(1 for _ in new_shape)
    if numel == 0:
        return strides if new_shape == shape else contiguous_strides(new_shape)

    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    chunk_base_stride = strides[-1]  # stride of the innermost dimension of the chunk
    chunk_numel = 1  # elements in the old chunk so far
    view_numel = 1  # elements in the matching group of new dimensions so far
    for d in range(len(shape) - 1, -1, -1):
        chunk_numel *= shape[d]
        chunk_ends = d == 0 or (shape[d - 1] != 1 and strides[d - 1] != chunk_numel * chunk_base_stride)
        if not chunk_ends:
            continue
        # Give this chunk's elements to new dimensions, right to left.
        while view_d >= 0 and (view_numel < chunk_numel or new_shape[view_d] == 1):
            new_strides[view_d] = view_numel * chunk_base_stride
            view_numel *= new_shape[view_d]
            view_d -= 1
        if view_numel != chunk_numel:
            return None  # a new dimension would straddle two chunks
        if d > 0:
            chunk_base_stride = strides[d - 1]
            chunk_numel = 1
            view_numel = 1
    if view_d != -1:
        return None
    return tuple(new_strides)


def _shape_args(shape: tuple[Any, ...]) -> Any:
    """Accept ``f(t, 2, 3)`` and ``f(t, (2, 3))`` like ``Tensor.view``."""
    if len(shape) == 1 and not isinstance(shape[0], (int, bool)) and hasattr(shape[0], "__len__"):
        return shape[0]
    return shape


def _check_tensor(value: Any, name: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def can_view(tensor: torch.Tensor, *shape: Any) -> bool:
    """Whether ``tensor.view(*shape)`` would succeed (without trying it).

    >>> import torch
    >>> x = torch.zeros(4, 6)
    >>> can_view(x, 24), can_view(x.t(), 24), can_view(x.t(), (2, 2, 6))
    (True, False, False)
    """
    _check_tensor(tensor, "tensor")
    shape = as_int_tuple(_shape_args(shape), "shape")
    return view_strides(tensor.shape, tensor.stride(), shape) is not None


# --- memory: which bytes does an object use? ----------------------------------


def _byte_layout(obj: Any, name: str) -> tuple[str, int, tuple[int, ...], tuple[int, ...], int]:
    """(device, address of first element, shape, byte strides, itemsize)."""
    if isinstance(obj, torch.Tensor):
        size = obj.element_size()
        return str(obj.device), obj.data_ptr(), tuple(obj.shape), tuple(s * size for s in obj.stride()), size
    if isinstance(obj, np.ndarray):
        return "cpu", obj.__array_interface__["data"][0], obj.shape, obj.strides, obj.itemsize
    raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(obj).__name__}")


def _extent(start: int, shape: Sequence[int], byte_strides: Sequence[int], itemsize: int) -> tuple[int, int]:
    """[low, high) byte addresses spanned by a strided layout (empty if no elements)."""
    if math.prod(shape) == 0:
        return start, start
    low = start + sum((n - 1) * s for n, s in zip(shape, byte_strides) if s < 0)
    high = start + sum((n - 1) * s for n, s in zip(shape, byte_strides) if s > 0) + itemsize
    return low, high


def _memory_block(obj: Any, name: str) -> tuple[str, int, int]:
    """(device, low, high) of the whole allocation behind ``obj``."""
    if isinstance(obj, torch.Tensor):
        storage = obj.untyped_storage()
        return str(obj.device), storage.data_ptr(), storage.data_ptr() + storage.nbytes()
    device, *_ = _byte_layout(obj, name)
    # A NumPy view keeps the array it came from in ``.base``; the root array is
    # the allocation (or the window of foreign memory, e.g. a tensor's).
    root = obj
    while isinstance(root.base, np.ndarray):
        root = root.base
    if isinstance(root.base, torch.Tensor):  # made by Tensor.numpy(): the tensor's storage
        return _memory_block(root.base, name)
    _, start, shape, byte_strides, itemsize = _byte_layout(root, name)
    return (device, *_extent(start, shape, byte_strides, itemsize))


def shares_storage(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> bool:
    """Whether ``a`` and ``b`` live in the same memory block (tensors or arrays).

    This is about the *allocation*, not the elements: two disjoint slices of
    one tensor share storage but do not :func:`overlap <overlaps>`. An empty
    storage holds no memory, so it shares none (as in NumPy).

    >>> import torch
    >>> x = torch.arange(10)
    >>> shares_storage(x[:5], x[5:]), shares_storage(x, x.clone())
    (True, False)
    >>> shares_storage(x, x.numpy())
    True
    """
    dev_a, low_a, high_a = _memory_block(a, "a")
    dev_b, low_b, high_b = _memory_block(b, "b")
    return dev_a == dev_b and max(low_a, low_b) < min(high_a, high_b)


class _AddressOnly:
    """Describes a strided byte layout to NumPy without owning any memory."""

    def __init__(self, start: int, shape: tuple[int, ...], byte_strides: tuple[int, ...], itemsize: int):
        self.__array_interface__ = {
            "version": 3,
            "typestr": "|u1",
            "data": (start, False),
            "shape": shape + (itemsize,),  # one trailing axis for the bytes of an element
            "strides": byte_strides + (1,),
        }


def overlaps(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> bool:
    """Whether some byte is addressed by an element of ``a`` and one of ``b``.

    Exact, not a bounds check: ``x[::2]`` and ``x[1::2]`` interleave but never
    touch the same element. The arithmetic is NumPy's exact overlap solver
    (``numpy.shares_memory``), which only looks at addresses and strides —
    so it also works for tensors NumPy cannot hold (GPU, bfloat16).

    >>> import torch
    >>> x = torch.arange(10)
    >>> overlaps(x[:5], x[5:]), overlaps(x[::2], x[1::2]), overlaps(x[2:6], x[4:])
    (False, False, True)
    """
    dev_a, *layout_a = _byte_layout(a, "a")
    dev_b, *layout_b = _byte_layout(b, "b")
    if dev_a != dev_b:
        return False
    # Only addresses are compared: the arrays below are never read or written.
    arrays = [np.asarray(_AddressOnly(*layout)) for layout in (layout_a, layout_b)]
    return bool(np.shares_memory(*arrays, max_work=None))


def describe(tensor: torch.Tensor, *, max_diagram: int = 64) -> str:
    """A learner-facing description of ``tensor``'s memory layout.

    For tensors of at most ``max_diagram`` elements it ends with a diagram: the
    storage position each index reads.

    >>> import torch
    >>> print(describe(torch.arange(6).reshape(2, 3).t()))
    shape:          (3, 2)
    strides:        (1, 3)
    storage offset: 0
    contiguous:     no (a contiguous (3, 2) tensor has strides (2, 1))
    view:           yes, of a tensor of shape (6,) (same storage, new metadata)
    storage:        6 elements of int64 on cpu
    storage position read by each index:
    [[0, 3],
     [1, 4],
     [2, 5]]
    """
    _check_tensor(tensor, "tensor")
    max_diagram = as_int(max_diagram, "max_diagram", minimum=0)
    shape, strides = tuple(tensor.shape), tensor.stride()
    contiguous = "yes" if tensor.is_contiguous() else f"no (a contiguous {shape} tensor has strides {contiguous_strides(shape)})"
    base = tensor._base
    view = f"yes, of a tensor of shape {tuple(base.shape)} (same storage, new metadata)" if base is not None else "no (owns its storage)"
    storage_elems = tensor.untyped_storage().nbytes() // tensor.element_size()
    lines = [
        f"shape:          {shape}",
        f"strides:        {strides}",
        f"storage offset: {tensor.storage_offset()}",
        f"contiguous:     {contiguous}",
        f"view:           {view}",
        f"storage:        {storage_elems} elements of {str(tensor.dtype).removeprefix('torch.')} on {tensor.device}",
    ]
    if tensor.numel() <= max_diagram:
        # The same metadata over a tensor that holds its own storage positions.
        positions = torch.arange(max(storage_elems, 1)).as_strided(shape, strides, tensor.storage_offset())
        diagram = str(positions.tolist()).replace("], [", "],\n [")
        lines += ["storage position read by each index:", diagram]
    return "\n".join(lines)
