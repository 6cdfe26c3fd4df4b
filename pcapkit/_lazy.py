"""Module attributes imported on first use (PEP 562), so that importing a package
pays only for the submodules a caller touches."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_attributes(module: str, defined_in: Mapping[str, str]
                    ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``module``, whose names ``defined_in`` maps
    to the module that defines each; a name is imported once, then kept."""

    def __getattr__(name: str) -> object:
        if name not in defined_in:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(defined_in[name]), name)
        setattr(sys.modules[module], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[module])) | set(defined_in))

    return __getattr__, __dir__
