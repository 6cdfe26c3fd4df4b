"""What the stages' option dataclasses share: documented fields and checked durations.

Each analysis stage declares its knobs as one frozen dataclass next to its code
(``FlowOptions``, ``DnsOptions``); a field carries its meaning in its metadata, so the
command line shows the same text as its help, and its default, so nothing repeats them.
Light on purpose (no numpy or pandas): the CLI imports it to declare its options.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

from pcapkit.errors import PcapkitError

#: the longest duration that still fits in int64 nanoseconds, as the stages compute with it
MAX_SECONDS = 9.2e9


def documented(default: Any, doc: str) -> Any:
    """A dataclass field with its default and what it means."""
    return dataclasses.field(default=default, metadata={"doc": doc})


def field_of(options: type, name: str) -> dataclasses.Field:
    """The declaration of one field of an options dataclass."""
    return {f.name: f for f in dataclasses.fields(options)}[name]


def seconds(owner: str, name: str, value: Any, *, none: bool = False,
            zero: bool = False) -> float | None:
    """``value`` as a finite number of seconds, positive (or >= 0 with ``zero``; None
    allowed with ``none``), else a PcapkitError naming ``owner: name`` and the value."""
    if value is None and none:
        return None
    kind = "non-negative" if zero else "positive"
    expected = f"{owner}: {name} must be a {kind} number of seconds" + (" or None" if none
                                                                        else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise PcapkitError(f"{owner}: {name} must be a number of seconds, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0 or (number == 0 and not zero):
        raise PcapkitError(f"{expected}, got {value!r}")
    if number > MAX_SECONDS:
        raise PcapkitError(f"{expected} (at most {MAX_SECONDS:.3g}), got {value!r}")
    return number


def flag(owner: str, name: str, value: Any) -> bool:
    """``value`` if it is a bool, else a PcapkitError."""
    if not isinstance(value, bool):
        raise PcapkitError(f"{owner}: {name} must be True or False, got {value!r}")
    return value


def assign(options: object, **values: Any) -> None:
    """Set checked values on a frozen dataclass from its ``__post_init__``."""
    for name, value in values.items():
        object.__setattr__(options, name, value)
