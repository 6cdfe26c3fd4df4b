"""Capture readers: frame pcap / pcapng files (optionally gzip) into record batches."""
