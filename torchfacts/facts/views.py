"""Facts about views, copies and contiguity.

Every "is a view" fact uses one detector, :func:`is_view`, modelled on torch's
own ``test_view_ops.py``: the result must share the base's storage *and* a
write through it must show in the base. "Copies" facts use the same detector
expecting the opposite, so each fact's negative control is a near-miss that
the detector must classify the other way.
"""

from __future__ import annotations

import warnings

import torch

from torchfacts.facts.registry import detects, expect, fact, raises
from torchfacts.views import shares_storage, view_strides

SENTINEL = -1.0  # never present in the bases below, which count up from 0


def grid(device: torch.device, *shape: int) -> torch.Tensor:
    """A float tensor holding 0, 1, 2, ... in a contiguous layout (3×4 by default)."""
    shape = shape or (3, 4)
    return torch.arange(float(torch.Size(shape).numel()), device=device).reshape(shape)


def _alias(base: torch.Tensor, derived: torch.Tensor, expr: str) -> tuple[bool, str]:
    """(is derived a view of base?, what was observed). Leaves ``base`` unchanged."""
    same_storage = shares_storage(base, derived)
    before = base.clone()
    derived[(0,) * derived.dim()] = SENTINEL  # one element, so expanded views are writable too
    write_shows = not torch.equal(base, before)
    base.copy_(before)
    layout = f"shape {tuple(derived.shape)}, strides {derived.stride()}, offset {derived.storage_offset()}"
    storage = "x's storage" if same_storage else "its own storage"
    shows = "shows" if write_shows else "does not show"
    return same_storage and write_shows, f"{expr}: {layout}, {storage}; a write through it {shows} in x"


def is_view(base: torch.Tensor, derived: torch.Tensor, expr: str) -> str:
    viewed, observed = _alias(base, derived, expr)
    return expect(viewed, observed)


def is_copy(base: torch.Tensor, derived: torch.Tensor, expr: str) -> str:
    viewed, observed = _alias(base, derived, expr)
    return expect(not viewed and not shares_storage(base, derived), observed)


def refuses_view(make, expr: str) -> str:
    """The call must raise torch's RuntimeError that points to ``.reshape``."""
    observed = raises(RuntimeError, make, expr)
    return expect(".reshape" in observed, observed)


# --- operations that return views ---------------------------------------------


@fact("views.view-shares-storage", seeds=("S000-06", "S000-09"),
      claim="`x.view(shape)` of a contiguous tensor returns a view: same storage, a write through it shows in x.")
def view_shares_storage(device):
    x = grid(device)
    return is_view(x, x.view(2, 6), "x.view(2, 6)")


@view_shares_storage.control
def _(device):
    x = grid(device)
    return detects(lambda: is_view(x, x.view(2, 6).clone(), "x.view(2, 6).clone()"))


@fact("views.reshape-viewable-is-view", seeds=("S000-06",),
      claim="`reshape` returns a view whenever `view` would succeed.")
def reshape_viewable_is_view(device):
    x = grid(device)
    return is_view(x, x.reshape(6, 2), "x.reshape(6, 2)")


@reshape_viewable_is_view.control
def _(device):
    x = grid(device)
    return detects(lambda: is_view(x, x.t().reshape(6, 2), "x.t().reshape(6, 2)"))


@fact("views.transpose-is-view", claim="`transpose` and `.t()` return views that swap strides; no data moves.")
def transpose_is_view(device):
    x = grid(device)
    return f"{is_view(x, x.t(), 'x.t()')}; {is_view(x, x.transpose(0, 1), 'x.transpose(0, 1)')}"


@transpose_is_view.control
def _(device):
    x = grid(device)
    return detects(lambda: is_view(x, x.t().contiguous(), "x.t().contiguous()"))


@fact("views.permute-is-view", claim="`permute` returns a view with reordered shape and strides.")
def permute_is_view(device):
    x = grid(device, 2, 3, 4)
    return is_view(x, x.permute(2, 0, 1), "x.permute(2, 0, 1)")


@permute_is_view.control
def _(device):
    x = grid(device, 2, 3, 4)
    return detects(lambda: is_view(x, x.permute(2, 0, 1).contiguous(), "x.permute(2, 0, 1).contiguous()"))


@fact("views.narrow-is-view", claim="`narrow` returns a view starting at a storage offset.")
def narrow_is_view(device):
    x = grid(device)
    return is_view(x, x.narrow(1, 1, 2), "x.narrow(1, 1, 2)")


@narrow_is_view.control
def _(device):
    x = grid(device)
    return detects(lambda: is_view(x, x.index_select(1, torch.tensor([1, 2], device=device)), "x.index_select(1, [1, 2])"))


@fact("views.slice-is-view", claim="Basic slicing, with steps too, returns a view (the step multiplies the stride).")
def slice_is_view(device):
    x = grid(device)
    return is_view(x, x[1:, ::2], "x[1:, ::2]")


@slice_is_view.control
def _(device):
    x = grid(device)
    return detects(lambda: is_view(x, x[1:, [0, 2]], "x[1:, [0, 2]]"))


@fact("views.expand-is-view", claim="`expand` returns a view with stride 0 on the expanded dimensions: no memory is allocated.")
def expand_is_view(device):
    x = grid(device, 1, 4)
    y = x.expand(3, 4)
    expect(y.stride()[0] == 0, f"x.expand(3, 4) has strides {y.stride()}, expected a 0 stride")
    return is_view(x, y, "x.expand(3, 4)")


@expand_is_view.control
def _(device):
    x = grid(device, 1, 4)
    return detects(lambda: is_view(x, x.repeat(3, 1), "x.repeat(3, 1)"))


@fact("views.unsqueeze-is-view", seeds=("S004-04",),
      claim="`unsqueeze(d)` returns a view with a new size-1 dimension at position d.")
def unsqueeze_is_view(device):
    x = grid(device)
    y = torch.unsqueeze(x, 1)
    expect(tuple(y.shape) == (3, 1, 4), f"torch.unsqueeze(x, 1) has shape {tuple(y.shape)}, expected (3, 1, 4)")
    return is_view(x, y, "torch.unsqueeze(x, 1)")


@unsqueeze_is_view.control
def _(device):
    x = grid(device)
    return detects(lambda: is_view(x, torch.stack([x], dim=1), "torch.stack([x], dim=1)"))


@fact("views.squeeze-is-view", claim="`squeeze` returns a view without the size-1 dimensions.")
def squeeze_is_view(device):
    x = grid(device, 3, 1, 4)
    return is_view(x, x.squeeze(1), "x.squeeze(1)")


@squeeze_is_view.control
def _(device):
    x = grid(device, 3, 1, 4)
    return detects(lambda: is_view(x, x.squeeze(1).clone(), "x.squeeze(1).clone()"))


@fact("views.flatten-contiguous-is-view", seeds=("S003-08", "S004-03"),
      claim="`flatten` of a contiguous tensor returns a view (of a non-contiguous one, a copy).")
def flatten_contiguous_is_view(device):
    x = grid(device, 2, 3, 4)
    return is_view(x, x.flatten(1), "x.flatten(1)")


@flatten_contiguous_is_view.control
def _(device):
    x = grid(device, 2, 3, 4)
    return detects(lambda: is_view(x, x.transpose(1, 2).flatten(1), "x.transpose(1, 2).flatten(1)"))


@fact("views.diagonal-is-view", claim="`diagonal` returns a view whose stride is the sum of the two strides.")
def diagonal_is_view(device):
    x = grid(device, 4, 4)
    y = x.diagonal()
    expect(y.stride() == (5,), f"x.diagonal() has strides {y.stride()}, expected (5,)")
    return is_view(x, y, "x.diagonal()")


@diagonal_is_view.control
def _(device):
    x = grid(device, 4, 4)
    return detects(lambda: is_view(x, torch.diag(x), "torch.diag(x)"))


@fact("views.unfold-is-view", claim="`unfold` returns overlapping sliding windows as a view, without copying.")
def unfold_is_view(device):
    x = grid(device, 12)
    return is_view(x, x.unfold(0, 4, 2), "x.unfold(0, 4, 2)")


@unfold_is_view.control
def _(device):
    x = grid(device, 12)
    return detects(lambda: is_view(x, x.unfold(0, 4, 2).contiguous(), "x.unfold(0, 4, 2).contiguous()"))


# --- operations that copy -------------------------------------------------------


@fact("views.clone-copies", claim="`clone` copies into new storage; writes do not reach the original.")
def clone_copies(device):
    x = grid(device)
    return is_copy(x, x.clone(), "x.clone()")


@clone_copies.control
def _(device):
    x = grid(device)
    return detects(lambda: is_copy(x, x.detach(), "x.detach()"))


@fact("views.contiguous-copies-noncontiguous", claim="`.contiguous()` of a non-contiguous tensor copies into a new, contiguous storage.")
def contiguous_copies(device):
    x = grid(device)
    return is_copy(x, x.t().contiguous(), "x.t().contiguous()")


@contiguous_copies.control
def _(device):
    x = grid(device)
    return detects(lambda: is_copy(x, x.contiguous(), "x.contiguous()  (x already contiguous)"))


@fact("views.advanced-indexing-copies", claim="Advanced indexing (integer lists, tensors or boolean masks) copies.")
def advanced_indexing_copies(device):
    x = grid(device)
    return f"{is_copy(x, x[[0, 2]], 'x[[0, 2]]')}; {is_copy(x, x[x > 5], 'x[x > 5]')}"


@advanced_indexing_copies.control
def _(device):
    x = grid(device)
    return detects(lambda: is_copy(x, x[0:3:2], "x[0:3:2]"))


@fact("views.reshape-nonviewable-copies", seeds=("S000-06",),
      claim="`reshape` of a layout that cannot be viewed silently copies, so writes to the result are lost to x.")
def reshape_nonviewable_copies(device):
    x = grid(device)
    return is_copy(x, x.t().reshape(12), "x.t().reshape(12)")


@reshape_nonviewable_copies.control
def _(device):
    x = grid(device)
    return detects(lambda: is_copy(x, x.reshape(12), "x.reshape(12)"))


# --- identity, errors and metadata ----------------------------------------------


def _contiguous_is_same(t: torch.Tensor, expr: str) -> str:
    same = t.contiguous() is t
    return expect(same, f"{expr}.contiguous() is {expr}: {same}")


@fact("views.contiguous-noop-same-object", claim="`.contiguous()` of an already contiguous tensor returns the very same object.")
def contiguous_noop_same_object(device):
    return _contiguous_is_same(grid(device), "x")


@contiguous_noop_same_object.control
def _(device):
    return detects(lambda: _contiguous_is_same(grid(device).t(), "x.t()"))


@fact("views.view-of-transposed-raises", seeds=("S000-06", "S000-09"),
      claim="`.view()` of a transposed tensor raises RuntimeError suggesting `.reshape(...)` instead.")
def view_of_transposed_raises(device):
    x = grid(device)
    return refuses_view(lambda: x.t().view(12), "x.t().view(12)")


@view_of_transposed_raises.control
def _(device):
    x = grid(device)
    return detects(lambda: refuses_view(lambda: x.view(12), "x.view(12)"))


def _metadata_only(x: torch.Tensor, y: torch.Tensor, expr: str, offset: int) -> str:
    same = y.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    address = y.data_ptr() == x.data_ptr() + offset * x.element_size()
    observed = (f"{expr}: same storage {same}, storage_offset {y.storage_offset()}, "
                f"data_ptr = x.data_ptr() + {offset} * itemsize: {address}")
    return expect(same and address and y.storage_offset() == offset, observed)


@fact("views.view-changes-only-metadata", seeds=("S000-08", "S000-09"),
      claim="A view changes only metadata: the storage is the same, a slice just starts at a storage offset.")
def view_changes_only_metadata(device):
    x = grid(device)
    return _metadata_only(x, x[1:, ::2], "x[1:, ::2]", offset=4)


@view_changes_only_metadata.control
def _(device):
    x = grid(device)
    return detects(lambda: _metadata_only(x, x[1:, ::2].clone(), "x[1:, ::2].clone()", offset=4))


def _inclusive_and_deprecated(make, expr: str, start: float, end: float) -> str:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = make(start, end)
    deprecated = any("deprecated" in str(w.message) for w in caught)
    observed = f"{expr} = {values.tolist()}, deprecation warning: {deprecated}"
    return expect(deprecated and values[-1].item() == end, observed)


@fact("views.range-deprecated-inclusive", seeds=("S000-07",),
      claim="`torch.range` is deprecated and includes its end (`torch.range(3, 4)` has 2 elements, so `.view(2, 6)` fails); `torch.arange` excludes it.")
def range_deprecated_inclusive(device):
    observed = _inclusive_and_deprecated(lambda a, b: torch.range(a, b, device=device), "torch.range(3, 4)", 3, 4)
    refusal = "no error"
    try:
        torch.range(3, 4, device=device).view(2, 6)
    except RuntimeError as refused:
        refusal = f"RuntimeError: {refused}"
    expect(refusal.startswith("RuntimeError"), f"torch.range(3, 4).view(2, 6): {refusal}")
    return f"{observed}; torch.range(3, 4).view(2, 6): {refusal}"


@range_deprecated_inclusive.control
def _(device):
    return detects(lambda: _inclusive_and_deprecated(lambda a, b: torch.arange(a, b, device=device), "torch.arange(3, 4)", 3, 4))


def _batch_view_fails_flatten_works(x: torch.Tensor, expr: str) -> str:
    refusal = refuses_view(lambda: x.view(x.size(0), -1), f"{expr}.view({expr}.size(0), -1)")
    flat = x.flatten(1)
    expect(torch.equal(flat, x.reshape(x.size(0), -1)), f"{expr}.flatten(1) does not match reshape")
    return f"{refusal}; {expr}.flatten(1) works: shape {tuple(flat.shape)}"


@fact("views.batch-view-vs-flatten", seeds=("S003-08", "S004-03"),
      claim="`x.view(x.size(0), -1)` fails on a non-viewable batch (e.g. channels-last); `x.flatten(1)` always works.")
def batch_view_vs_flatten(device):
    batch = grid(device, 2, 3, 4, 5).permute(0, 2, 3, 1)  # NCHW data in NHWC order
    return _batch_view_fails_flatten_works(batch, "x")


@batch_view_vs_flatten.control
def _(device):
    batch = grid(device, 2, 3, 4, 5)
    return detects(lambda: _batch_view_fails_flatten_works(batch, "x"))


# Layouts that exercise each branch of the rule: chunks, size-1 dims, zero-size.
RULE_CASES = [
    ((3, 4), (1, 3), (12,)),
    ((3, 4), (1, 3), (3, 2, 2)),
    ((2, 3, 4), (12, 1, 3), (2, 12)),
    ((2, 3, 4), (12, 1, 3), (6, 4)),
    ((2, 3, 4), (3, 1, 6), (2, 12)),
    ((4, 1, 3), (3, 100, 1), (12,)),
    ((2, 3), (0, 1), (6,)),
    ((2, 3), (0, 1), (2, 3, 1)),
    ((2, 0, 3), (1, 1, 0), (0, 6)),
]


def _rule_agrees(rule, name: str, device) -> str:
    disagreements = []
    for shape, strides, target in RULE_CASES:
        x = torch.zeros(64, device=device).as_strided(shape, strides)
        try:
            observed = x.view(target).stride()
        except RuntimeError:
            observed = None
        if rule(shape, strides, target) != observed:
            disagreements.append(f"{shape}/{strides} -> {target}: torch {observed}")
    return expect(not disagreements, f"{name} vs torch on {len(RULE_CASES)} layouts: "
                  + ("; ".join(disagreements) or "all agree"))


def _contiguous_only_rule(shape, strides, target):
    """A wrong mental model: 'only contiguous tensors can be viewed'."""
    return view_strides(shape, strides, target) if torch.empty_strided(shape, strides).is_contiguous() else None


@fact("views.view-rule-chunks", seeds=("S000-09",),
      claim="`view` works on non-contiguous tensors too, exactly when each new dimension stays inside one contiguous chunk of the old layout.")
def view_rule_chunks(device):
    return _rule_agrees(view_strides, "torchfacts.views.view_strides", device)


@view_rule_chunks.control
def _(device):
    return detects(lambda: _rule_agrees(_contiguous_only_rule, "'only contiguous tensors can be viewed'", device))
