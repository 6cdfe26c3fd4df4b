"""Fixtures for the capture reader tests: run each test with both record framers."""

from __future__ import annotations

import pytest

from pcapkit.io import framing


@pytest.fixture(params=["c", "python"])
def framer(request):
    """The C framer (skipped when the extension is not built) and the pure-Python twin."""
    if request.param == "c":
        if framing.C_FRAMER is None:
            pytest.skip("pcapkit.io._framing is not built (pip install -e . builds it)")
        return framing.C_FRAMER
    return framing.PYTHON_FRAMER
