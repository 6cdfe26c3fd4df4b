"""The package's front door: pcapkit.open first, lazy imports, no shadowed builtins."""

from __future__ import annotations

import subprocess
import sys

import pcapkit


def test_every_public_name_resolves() -> None:
    for name in [*pcapkit.__all__, "open"]:
        assert getattr(pcapkit, name) is not None, name
    assert pcapkit.open.__module__ == "pcapkit.capture"


def test_star_import_leaves_the_builtin_open_alone() -> None:
    code = "import builtins\nfrom pcapkit import *\nassert open is builtins.open\n"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_pcapkit_is_light() -> None:
    code = ("import sys, pcapkit; heavy = [m for m in ('pandas', 'numpy', 'pyarrow', 'sigma')"
            " if m in sys.modules]; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
