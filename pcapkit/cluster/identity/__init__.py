"""Who is behind an address: the ``Identity`` answer (``identity``), the time- and port-aware
lookup (``address_map``, with numpy longest-prefix matching in ``prefixes``), filling it from
the cluster's records (``build``), and vectorised enrichment of address columns (``enrich``)."""
