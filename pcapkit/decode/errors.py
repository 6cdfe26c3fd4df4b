"""The ``decode_error`` vocabulary: the integer codes the decoder writes, and the
text each code reads as in the packet table.

The decoder keeps errors as integer codes until the table is built. Fixed
messages have small codes. A message with a number in it ("GRE protocol
0x8909 not decoded") is registered once as a format; its code carries the
number in the low 32 bits, so one array still holds every row's error.
Tunnel modules register their own messages at import time, so every process
(forked children, pool workers) numbers them alike.
"""

from __future__ import annotations

import numpy as np

ERR_VERSION, ERR_IHL, ERR_IP_CUT, ERR_EXT_CUT, ERR_L4_CUT = 1, 2, 3, 4, 5
ERR_TUNNEL_CUT, ERR_TOO_DEEP, ERR_TUNNEL_INVALID, ERR_ETHERNET_CUT, ERR_PAYLOAD_CUT = 6, 7, 8, 9, 10
ERR_LINK_CUT = 11

_FIXED = {
    ERR_VERSION: "IP version does not match the link layer",
    ERR_IHL: "bad IPv4 header length",
    ERR_IP_CUT: "IP header cut short",
    ERR_EXT_CUT: "IPv6 extension headers cut short",
    ERR_L4_CUT: "transport header cut short",
    ERR_TUNNEL_CUT: "tunnel header cut short",
    ERR_TOO_DEEP: "too many nested tunnels",
    ERR_TUNNEL_INVALID: "tunnel header invalid",
    ERR_ETHERNET_CUT: "Ethernet header inside the tunnel cut short",
    ERR_PAYLOAD_CUT: "tunnel payload cut short",
    ERR_LINK_CUT: "link-layer header cut short",
}
_FORMATS: list[str] = []
_VALUE_BITS = 32


def register_error(text: str) -> int:
    """The code of ``text``, registered on first use. A text with a ``{}`` field is
    a format: add the number to show to its code (:func:`with_value`)."""
    if "{" not in text:
        for code, known in _FIXED.items():
            if known == text:
                return code
        code = max(_FIXED) + 1
        _FIXED[code] = text
        return code
    if text not in _FORMATS:
        _FORMATS.append(text)
    return (_FORMATS.index(text) + 1) << _VALUE_BITS


def with_value(code: int, values: np.ndarray) -> np.ndarray:
    """Per row, the code of a format message showing ``values`` (0 to 2**32-1)."""
    return code | values.astype(np.int64)


def error_name(code: int) -> str:
    """The message an error code reads as."""
    if code >> _VALUE_BITS:
        text = _FORMATS[(code >> _VALUE_BITS) - 1]
        return text.format(code & ((1 << _VALUE_BITS) - 1))
    return _FIXED.get(code, f"error {code}")
