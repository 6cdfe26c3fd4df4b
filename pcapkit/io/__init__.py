"""Capture readers: frame pcap / pcapng files (optionally gzip) into record batches."""

from pcapkit.io.reader import CaptureReader, iter_capture_paths, open_capture

__all__ = ["CaptureReader", "iter_capture_paths", "open_capture"]
