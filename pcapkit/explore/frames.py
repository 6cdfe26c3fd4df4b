"""One frame of a capture file, for a closer look: as a scapy packet or as Wireshark sees it.

Files are named as the tables name them (``packets.file``, ``sightings.file``), a member of a
(Retina) tarball as ``archive!member``; the Capture knows where each is on disk (an
unpacked archive's temporary copy included). ``scapy_packet`` reads that one record through
:func:`pcapkit.evidence.read_frames` (one pass over the file that stops at the frame) and
builds the packet from its bytes with scapy's class for the file's link type, keeping the
capture time and wire length. ``dissect`` asks tshark through pyshark, with the display
filter ``frame.number == N``, in a thread of its own (pyshark runs an asyncio loop, which
a notebook's running loop would refuse).
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pcapkit.errors import PcapkitError

if TYPE_CHECKING:
    from scapy.packet import Packet

    from pcapkit.capture import Capture


def on_disk(capture: Capture, file: str | Path) -> Path:
    """The file behind a name the tables use; a PcapkitError listing the capture's files
    when ``file`` is none of them."""
    files = capture.inputs.on_disk
    name = str(file)
    if name in files:
        return files[name]
    given = Path(name).resolve() if Path(name).exists() else None
    for path in files.values():  # the path itself, as the user has it
        if str(path) == name or (given is not None and Path(path).resolve() == given):
            return path
    listed = ", ".join(list(files)[:5]) + (f" ... ({len(files)} in all)" if len(files) > 5
                                           else "")
    raise PcapkitError(f"{name}: not a file of this capture; its files: {listed or 'none'}")


def _frame_number(frame: Any) -> int:
    if isinstance(frame, bool) or not isinstance(frame, int | np.integer) or frame < 1:
        raise PcapkitError(f"frame: {frame!r} is not a frame number (1, 2, ...)")
    return int(frame)


def scapy_packet(capture: Capture, file: str | Path, frame: int) -> Packet:
    """Frame ``frame`` of ``file`` as a scapy packet (``time``: its capture time,
    ``wirelen``: its length on the wire); raw bytes for a link type scapy does not know."""
    from scapy.all import conf
    from scapy.packet import Raw

    from pcapkit.evidence import read_frames

    number = _frame_number(frame)
    read = read_frames(str(on_disk(capture, file)), np.array([number], dtype=np.int64),
                       shown_as=str(file), cited=False)
    start, length = int(read.offset[0]), int(read.caplen[0])
    data = read.data[start:start + length].tobytes()
    linktype = read.interfaces[int(read.interface[0])][1] if read.interfaces else None
    layer = conf.l2types.get(linktype, Raw) if linktype is not None else Raw
    packet = layer(data)
    packet.time = Decimal(int(read.ts_ns[0])) / Decimal(1_000_000_000)
    packet.wirelen = int(read.wirelen[0])
    return packet


def dissect(capture: Capture, file: str | Path, frame: int) -> Any:
    """Wireshark's dissection of one frame: a pyshark packet (``.layers``,
    ``packet.ip.src``, ``packet.frame_info.number`` ...)."""
    number = _frame_number(frame)
    path = on_disk(capture, file)
    if shutil.which("tshark") is None:
        raise PcapkitError("tshark is not installed (Wireshark's command-line dissector, "
                           "which pyshark runs): install it, e.g. apt-get install tshark")
    result: dict[str, Any] = {}
    worker = threading.Thread(target=_dissect_in_thread, args=(path, number, result),
                              name="pcapkit-dissect", daemon=True)
    worker.start()
    worker.join()
    if "error" in result:
        raise PcapkitError(f"{file}: tshark could not dissect frame {number}: "
                           f"{result['error']}")
    if result.get("packet") is None:
        raise PcapkitError(f"{file}: there is no frame {number}")
    return result["packet"]


def _dissect_in_thread(path: Path, number: int, result: dict[str, Any]) -> None:
    """Run pyshark on its own event loop; the packet (or the error) goes to ``result``."""
    import pyshark

    loop = asyncio.new_event_loop()
    capture = None
    try:
        capture = pyshark.FileCapture(str(path), display_filter=f"frame.number == {number}",
                                      keep_packets=True, eventloop=loop)
        capture.load_packets()
        result["packet"] = capture[0] if len(capture) else None
    except Exception as exc:  # noqa: BLE001 - reported to the caller as a PcapkitError
        result["error"] = str(exc).strip() or type(exc).__name__
    finally:
        if capture is not None:
            try:
                capture.close()
            except Exception:  # noqa: BLE001 - closing a finished tshark may fail; nothing to do
                pass
        loop.close()
