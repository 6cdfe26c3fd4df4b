"""DNS names in wire format: labels, compression pointers, presentation text.

A name is read label by label up to the root label or a compression pointer
(RFC 1035 4.1.4); bytes outside printable ASCII, and ``.`` or ``\\`` inside a
label, are written as ``\\DDD``. Walks are cached by the bytes they read, so a
name seen before (the question's name in its response) is not walked again.
"""

from __future__ import annotations

_MAX_NAME_WIRE_LEN = 255
# Cache bound: a full cache is emptied and refilled.
_NAME_CACHE_LIMIT = 1 << 15
# Label walks (text, label bytes, bytes consumed, pointer target or -1), keyed by the bytes
# from the walk's start up to the next zero byte.
_name_cache: dict[bytes, tuple[str, int, int, int]] = {}

# Bytes that need no escaping inside a label: printable ASCII except '.' and '\'.
_PLAIN_LABEL_BYTES = bytes(b for b in range(0x21, 0x7F) if b not in b".\\")
_PLAIN_NAME_BYTES = _PLAIN_LABEL_BYTES + b"."


class RanPastEnd(Exception):
    """Parsing needed a byte beyond the available data."""


class PointerPastEnd(RanPastEnd):
    """A compression pointer aims beyond the available bytes."""


class Malformed(Exception):
    """The message breaks a DNS rule; the argument says which."""


def _label_text(label: bytes) -> str:
    """Presentation form of one label: printable ASCII kept, anything else as ``\\DDD``."""
    if not label.translate(None, _PLAIN_LABEL_BYTES):
        return label.decode("ascii")
    return "".join(
        chr(b) if b in _PLAIN_LABEL_BYTES else f"\\{b:03d}" for b in label
    )


def _labels_text(labels: list[bytes]) -> str:
    """Presentation form of a run of labels joined by dots ("" for none)."""
    if not labels:
        return ""
    joined = b".".join(labels)
    if not joined.translate(None, _PLAIN_NAME_BYTES) and joined.count(b".") == len(labels) - 1:
        return joined.decode("ascii")
    return ".".join(_label_text(label) for label in labels)


def _walk_labels(msg: bytes, off: int, end: int, budget: int) -> tuple[str, int, int, int]:
    """Walk the labels at ``off`` up to the root label or a compression pointer.

    Returns (text, label bytes used, offset after the root label or the pointer,
    pointer target or -1). ``budget`` is how many label bytes the name may still use.
    """
    labels: list[bytes] = []
    used = 0
    while True:
        if off >= end:
            raise RanPastEnd
        n = msg[off]
        if n == 0:
            return _labels_text(labels), used, off + 1, -1
        if n < 64:
            off += 1
            stop = off + n
            if stop > end:
                raise RanPastEnd
            used += n + 1
            if used > budget:
                raise Malformed("name longer than 255 bytes")
            labels.append(msg[off:stop])
            off = stop
        elif n >= 0xC0:
            if off + 1 >= end:
                raise RanPastEnd
            return _labels_text(labels), used, off + 2, ((n & 0x3F) << 8) | msg[off + 1]
        else:
            raise Malformed(
                f"invalid label length byte 0x{n:02x} (labels are at most 63 bytes;"
                " 0x40 and 0x80 label types are reserved)"
            )


def read_name(msg: bytes, off: int, end: int, memo: dict) -> tuple[str, int]:
    """Read the (possibly compressed) name at ``off``; return it and the offset after it.

    Pointers may go forwards or backwards (RFC 1035 does not forbid either) but a
    pointer that revisits a target is a loop, and one past ``end`` is outside the
    message. ``end`` is the number of available bytes of ``msg``.

    Two caches keep this cheap. ``memo`` (one per message) maps an offset to the
    name already read there, so pointers to the question name cost one look-up.
    ``_name_cache`` maps the bytes up to the next zero byte to the result of
    walking the labels there (text, label bytes, bytes consumed, pointer target).
    A hit is exact: the walk depends only on the bytes it consumed, and an entry is
    stored only when those bytes lie inside the key.
    """
    known = memo.get(off)
    if known is not None:
        return known[0], known[2]
    if off < end:  # the two commonest names: the root, and one pointer to a name read before
        first = msg[off]
        if first == 0:
            return ".", off + 1
        if first >= 0xC0 and off + 1 < end:
            known = memo.get(((first & 0x3F) << 8) | msg[off + 1])
            if known is not None:
                return known[0], off + 2
    begin = off
    parts: list[str] = []
    budget = _MAX_NAME_WIRE_LEN - 1  # label bytes left once the root label is counted
    after = -1
    visited: set[int] | None = None
    while True:
        if off >= end:
            raise RanPastEnd
        target = -1
        known = memo.get(off) if after >= 0 else None
        if known is not None:
            used = known[1]
            text = known[0] if used else ""
        elif msg[off] >= 0xC0:
            if off + 1 >= end:
                raise RanPastEnd
            text, used, target = "", 0, ((msg[off] & 0x3F) << 8) | msg[off + 1]
            off += 2
        else:
            zero = msg.find(0, off, end)
            key = msg[off:zero + 1] if zero >= 0 else None
            hit = _name_cache.get(key) if key is not None else None
            if hit is not None:
                text, used, consumed, target = hit
                off += consumed
            else:
                text, used, after_walk, target = _walk_labels(msg, off, end, budget)
                if key is not None and after_walk <= zero + 1:
                    if len(_name_cache) >= _NAME_CACHE_LIMIT:
                        _name_cache.clear()
                    _name_cache[key] = (text, used, after_walk - off, target)
                off = after_walk
        if used > budget:
            raise Malformed("name longer than 255 bytes")
        budget -= used
        if text:
            parts.append(text)
        if target < 0:
            break
        if visited is None:
            after = off
            visited = {target}
        elif target in visited:
            raise Malformed("compression pointer loop")
        else:
            visited.add(target)
        if target >= end:
            raise PointerPastEnd
        off = target
    name = ".".join(parts) if parts else "."
    if after < 0:
        after = off
    memo[begin] = (name, _MAX_NAME_WIRE_LEN - 1 - budget, after)
    return name, after
