"""App factories that ``bench/intake.py`` serves with ``python -m uvicorn ... --factory``.

* ``bench.servers:kesu_intake`` -- kesu's real app, intake only (``create_app(services,
  workers=False)``) on the SQLite file named by ``BENCH_DB``, webhook secret ``BENCH_SECRET``.
* ``bench.servers:bare`` -- the baseline: a FastAPI app whose only route is an ``async def``
  answering 202 (no signature check, no storage).
"""

from __future__ import annotations

import logging
import os

from fastapi import FastAPI, Response
from pydantic import SecretStr


def kesu_intake() -> FastAPI:
    from kesu.app import Services, create_app
    from kesu.settings import Settings

    # The helpdesk is never called without workers; start-up's one "who am I" call to this closed
    # port fails at once and is only logged.
    logging.getLogger("kesu.app").setLevel(logging.ERROR)
    settings = Settings()
    settings.store.url = f"sqlite:///{os.environ['BENCH_DB']}"
    settings.helpdesk.url = "http://127.0.0.1:9"
    settings.helpdesk.retries = 0
    settings.helpdesk.timeout = 0.5
    settings.helpdesk.webhook_secret = SecretStr(os.environ["BENCH_SECRET"])
    services = Services.build(settings, load_entrypoints=False)
    return create_app(services, workers=False)


def bare() -> FastAPI:
    app = FastAPI()

    @app.post("/webhooks/zammad", status_code=202)
    async def webhook() -> Response:
        return Response(status_code=202)

    return app


def kesu_intake_batched() -> FastAPI:
    """EXPERIMENT, not kesu's code: ``kesu_intake`` with ``Inbox.add_many`` replaced by one
    multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` per group commit (SQLAlchemy's
    insertmanyvalues) instead of one statement per event. Shows what that change would buy."""
    from collections.abc import Sequence

    from kesu.store import inbox as inbox_module
    from kesu.store.inbox import Inbox, NewEvent, _row_values

    def add_many(self: Inbox, events: Sequence[NewEvent]) -> list[int | None]:
        stmt = self._insert.returning(inbox_module.inbox.c.delivery_id)
        with self.engine.begin() as conn:
            keyed = [e for e in events if e.delivery_id is not None]
            got: dict[str, int] = {}
            if keyed:
                for row in conn.execute(stmt, [_row_values(e) for e in keyed]):
                    got[row[1]] = row[0]
            ids: list[int | None] = []
            for e in events:
                if e.delivery_id is None:
                    row = conn.execute(self._insert, _row_values(e)).first()
                    ids.append(row[0] if row else None)
                else:  # the first of two equal delivery ids in one batch wins; a seen one is None
                    ids.append(got.pop(e.delivery_id, None))
        return ids

    Inbox.add_many = add_many  # type: ignore[method-assign]
    return kesu_intake()
