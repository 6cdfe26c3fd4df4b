"""Packet decoding: link layer, IP, transport and tunnels, as columns.

The decode API (``decode_file``, ``decode_files``, ``iter_decode``, ``Decoded``,
``DecodeConfig``) is imported on first use, so that the modules the Parquet
stream needs do not pull in pandas.
"""

from pcapkit._lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(__name__, {
    "Decoded": "pcapkit.decode.files", "decode_file": "pcapkit.decode.files",
    "decode_files": "pcapkit.decode.files", "iter_decode": "pcapkit.decode.files",
    "DecodeConfig": "pcapkit.decode.config"})

__all__ = ["DecodeConfig", "Decoded", "decode_file", "decode_files", "iter_decode"]
