"""Where the work runs: in this process, or spread over local worker processes."""

from pcapkit.engines.local import default_workers, map_files

__all__ = ["default_workers", "map_files"]
