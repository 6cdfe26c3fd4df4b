"""Where an incident directory keeps its cluster export, when no ``--snapshot`` says.

``pcapkit analyze incident/`` looks in each directory it is given for ``cluster.json``,
``cluster.yaml`` (or ``.yml``) and a ``snapshot/`` directory (``kubectl cluster-info dump``
or one file per kind), the names the user's guide asks for.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

#: file names, then directory names, looked for in each given directory
SNAPSHOT_FILES = ("cluster.json", "cluster.yaml", "cluster.yml")
SNAPSHOT_DIRECTORIES = ("snapshot",)


def discover_snapshots(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The cluster exports found at the top of the given directories (files given are
    captures, not searched), in the order given."""
    found: list[Path] = []
    for given in paths:
        directory = Path(given)
        if not directory.is_dir():
            continue
        found += [directory / name for name in SNAPSHOT_FILES if (directory / name).is_file()]
        found += [directory / name for name in SNAPSHOT_DIRECTORIES
                  if (directory / name).is_dir()]
    return list(dict.fromkeys(found))
