"""Cached lookups of the few Odoo records kesu names: tags, teams, users, stages."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from connector.odoo.client import OdooClient

REFRESH_SECONDS = 60.0  # an unknown stage reloads the stage list at most this often


class Names:
    """id <-> name of one model (tags by name, users by login, teams by name); cached.

    Names come for free with reads (many2one display names) and are looked up in one call for
    the unknown ones. Renames in Odoo are picked up when a name is missed (restart clears all).
    """

    def __init__(self, client: OdooClient, model: str, field: str = "name") -> None:
        self.client = client
        self.model = model
        self.field = field
        self._by_id: dict[int, str] = {}
        self._by_name: dict[str, int] = {}
        self._lock = threading.Lock()

    def learn(self, rid: int, name: str) -> None:
        if name:
            with self._lock:
                self._by_id[rid] = name
                self._by_name.setdefault(name, rid)

    def names(self, ids: Sequence[int]) -> list[str]:
        missing = [i for i in ids if i not in self._by_id]
        if missing:
            for row in self.client.read(self.model, missing, [self.field]):
                if isinstance(row.get("id"), int) and isinstance(row.get(self.field), str):
                    self.learn(row["id"], row[self.field])
        return [self._by_id[i] for i in ids if i in self._by_id]

    def ids(self, names: Sequence[str], *, create: bool = False) -> dict[str, int]:
        """Ids of these names; unknown ones are searched (one call) and optionally created."""
        wanted = list(dict.fromkeys(names))
        missing = [n for n in wanted if n not in self._by_name]
        if missing:
            rows = self.client.search_read(self.model, [(self.field, "in", missing)], [self.field])
            for row in sorted(rows, key=lambda r: r.get("id", 0)):
                if isinstance(row.get("id"), int) and isinstance(row.get(self.field), str):
                    self.learn(row["id"], row[self.field])
            still = [n for n in missing if n not in self._by_name]
            if still and create:
                for name, rid in zip(still, self.client.create(self.model, [{self.field: n} for n in still])):
                    self.learn(rid, name)
        return {n: self._by_name[n] for n in wanted if n in self._by_name}


class StageFolds:
    """Whether a stage is folded (Enterprise: "considered closed"), for Odoo 16 Enterprise,
    whose tickets have no ``fold`` field of their own. Loaded once; reloaded on an unknown id."""

    def __init__(self, client: OdooClient, model: str) -> None:
        self.client = client
        self.model = model
        self._folded: dict[int, bool] = {}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def folded(self, stage_id: int) -> bool:
        with self._lock:
            now = time.monotonic()
            stale = self._loaded_at is None or now - self._loaded_at > REFRESH_SECONDS
            if stage_id not in self._folded and stale:
                rows = self.client.search_read(self.model, [], ["fold"])
                self._folded.update((r["id"], bool(r.get("fold"))) for r in rows if isinstance(r.get("id"), int))
                self._loaded_at = now
            return self._folded.get(stage_id, False)
