"""Packet decoding: link layer, IP, transport and tunnels, as columns."""
