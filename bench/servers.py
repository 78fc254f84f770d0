"""App factories that ``bench/intake.py`` serves with ``python -m uvicorn ... --factory``.

* ``bench.servers:kesu_intake`` -- kesu's real app, intake only (``create_app(services,
  workers=False)``) on the SQLite file named by ``BENCH_DB``, webhook secret ``BENCH_SECRET``.
* ``bench.servers:kesu_intake_nosync`` -- an experiment: the same without waiting for the disk.
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


def kesu_intake_nosync() -> FastAPI:
    """EXPERIMENT, not kesu's code: ``kesu_intake`` whose commits do not wait for the disk (SQLite
    ``synchronous=NORMAL`` in WAL mode: an acknowledged webhook could be lost in a power cut).
    Beside ``kesu_intake`` it shows how much of the intake's time is the fsync of each group commit."""
    from kesu import app as kesu_app

    build = kesu_app.Services.build

    def relaxed(*args, **kwargs):  # type: ignore[no-untyped-def]
        services = build(*args, **kwargs)
        services.engine.update_execution_options(kesu_durable=False)  # every transaction relaxed
        return services

    kesu_app.Services.build = relaxed  # type: ignore[method-assign]
    return kesu_intake()
