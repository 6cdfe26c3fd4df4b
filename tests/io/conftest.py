"""Fixtures for the capture reader tests: run each test with both record framers."""

from __future__ import annotations

import os

import pytest

from pcapkit.io import framing


@pytest.fixture(params=["c", "python"])
def framer(request):
    """The C framer and the pure-Python twin, forced. A missing extension fails, unless
    PCAPKIT_ALLOW_PURE_PYTHON=1 says the pure-Python framer alone is intended."""
    if request.param == "c":
        if framing.C_FRAMER is None:
            message = "pcapkit.io._framing is not built (pip install -e . builds it)"
            if os.environ.get("PCAPKIT_ALLOW_PURE_PYTHON") == "1":
                pytest.skip(message)
            pytest.fail(message)
        return framing.C_FRAMER
    return framing.PYTHON_FRAMER
