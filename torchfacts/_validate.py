"""Argument checks shared by the helpers: clear errors that name the argument.

Every public helper turns bad input into a ``TypeError`` (wrong kind of value)
or a ``ValueError`` (right kind, impossible value) whose message names the
argument, shows the value and says what is allowed.
"""

from __future__ import annotations

import operator
from typing import Any, Sequence


def as_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as a Python int, or raise naming ``name``.

    >>> as_int(3, "size")
    3
    >>> as_int(-1, "size", minimum=0)
    Traceback (most recent call last):
    ...
    ValueError: size must be >= 0, got -1
    """
    # bool is an int subclass, but True as a size is almost always a bug.
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got the bool {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {value!r} of type {type(value).__name__}") from None
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {number}")
    return number


def as_int_tuple(value: Any, name: str, *, minimum: int | None = None) -> tuple[int, ...]:
    """Return a sequence of ints as a tuple, checking each element.

    >>> as_int_tuple([2, 3], "shape", minimum=0)
    (2, 3)
    >>> as_int_tuple((2, 2.5), "shape")
    Traceback (most recent call last):
    ...
    TypeError: shape[1] must be an int, got 2.5 of type float
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a sequence of ints, got {value!r} of type {type(value).__name__}")
    return tuple(as_int(v, f"{name}[{i}]", minimum=minimum) for i, v in enumerate(value))
