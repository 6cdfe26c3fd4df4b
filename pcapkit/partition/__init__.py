"""Partitioned runs: an incident's packets cut into shares that are analysed one at a time
(or in parallel) and merged into the same tables as one pass over everything.

Every sighting of a packet, and every packet of a conversation, shares the innermost
(canonical) address pair and protocol; an ICMP error travels with the conversation it
quotes. So a share keyed by that pair (``keys.partition_of``) holds whole packets and whole
flows, and the stages need only a few incident-wide steps between shares: the clock
estimate (from every share's candidates), packet and flow numbering (by first sighting),
and the links between conversations (Service DNAT, DNS). See docs/scale.md.
"""

from pcapkit.partition.keys import partition_of
from pcapkit.partition.vantage import build_sightings_partitioned

__all__ = ["build_sightings_partitioned", "partition_of"]
