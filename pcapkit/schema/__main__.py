"""``python -m pcapkit.schema``: print docs/columns.md."""

from pcapkit.schema import columns_document

print(columns_document(), end="")
