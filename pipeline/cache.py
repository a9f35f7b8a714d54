"""The one cache shape qcode uses: an sqlite table from a sha256 key to a blob.

Embeddings (float32 vectors) and segment boundaries (int64 offsets) are stored this way,
keyed by hashes of the text and settings; no text is ever stored. Write-ahead logging lets
several processes read while one writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

BATCH = 500  # keys per SELECT (sqlite's parameter limit is far above)


class BlobCache:
    """`table (key BLOB PRIMARY KEY, <value> BLOB NOT NULL)` in the sqlite file at `path`
    (created with its folder if missing). `hits` counts keys found. (`value` names the
    column, so caches written by earlier versions stay readable.)"""

    def __init__(self, path: Path, table: str, value: str = "value"):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.table, self.value = path, table, value
        self.db = sqlite3.connect(path, timeout=120)  # cluster workers and parallel runs wait their turn to write
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"CREATE TABLE IF NOT EXISTS {table} (key BLOB PRIMARY KEY, {value} BLOB NOT NULL)")
        self.hits = 0

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, bytes]:
        found: dict[bytes, bytes] = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), BATCH):
            part = unique[i : i + BATCH]
            rows = self.db.execute(
                f"SELECT key, {self.value} FROM {self.table} WHERE key IN ({','.join('?' * len(part))})", part
            )
            found.update(rows)
        self.hits += sum(1 for k in keys if k in found)
        return found

    def get(self, key: bytes) -> bytes | None:
        return self.get_many([key]).get(key)

    def put_many(self, items: Sequence[tuple[bytes, bytes]]) -> None:
        with self.db:
            self.db.executemany(f"INSERT OR REPLACE INTO {self.table} VALUES (?, ?)", items)

    def __len__(self) -> int:
        return self.db.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0]

    def close(self) -> None:
        self.db.close()
