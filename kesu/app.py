"""Wiring: settings -> store, plugin host, connector, pipeline; and the HTTP application.

``Services`` holds the long-lived parts of one kesu process. ``create_app`` serves:

* ``POST /webhooks/{kind}`` -- the helpdesk's webhook (``/webhooks/zammad``);
* ``GET /healthz`` -- the store answers;
* ``GET /metrics`` -- Prometheus;
* ``/admin/api/...`` and ``/admin`` -- the admin API and page (``kesu.admin``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from anyio import to_thread
from fastapi import FastAPI, Request
from starlette.requests import ClientDisconnect
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text

from connector.base import Connector
from connector.errors import WebhookRejected
from kesu import metrics
from kesu.intake import GroupCommitWriter, hint_problem, webhook_openapi
from kesu.notifiers.delivery import BotNotifier
from kesu.notifiers.delivery import attach as attach_notifier
from kesu.pipeline import Pipeline
from kesu.admin.auth import authenticate
from kesu.settings import AdminSettings, Settings
from kesu.store.db import make_engine, migrate, utcnow
from kesu.store.inbox import Inbox, NewEvent
from kesu.worker import Runner
from plugins.manager import PluginHost, build_plugin_manager
from plugins.plan import NoteRenderer

log = logging.getLogger(__name__)

REDACTED_HEADERS = {"authorization", "cookie", "proxy-authorization", "x-api-key"}
_SECRET_WORDS = ("token", "secret", "key", "password", "auth")


#: Served only with an admin token when ``[server] protect_meta`` is on.
META_PATHS = frozenset({"/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


class ProtectMeta:
    """Pure ASGI (no per-request cost on other paths, unlike ``@app.middleware``): the paths
    that describe kesu answer 401 without ``Authorization: Bearer <admin token>``."""

    def __init__(self, app: ASGIApp, admin: AdminSettings) -> None:
        self.app = app
        self.admin = admin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in META_PATHS:
            auth = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
            who = authenticate(self.admin, token)
            if who is None or not who.can("read"):
                await JSONResponse({"error": "an admin token (read scope) is required"}, status_code=401,
                                   headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
                return
        await self.app(scope, receive, send)


def warn_missing_secrets(settings: Settings) -> list[str]:
    """Log (and return) a warning per missing secret: kesu still starts (the sandbox and first
    set-up run without them), but nobody should run it that way unawares."""
    missing = []
    if not settings.helpdesk.webhook_secret.get_secret_value():
        missing.append("[helpdesk] webhook_secret is not set: every webhook will be refused (401)")
    if not settings.helpdesk.token.get_secret_value():
        missing.append("[helpdesk] token is not set: kesu cannot read or write tickets")
    for message in missing:
        log.warning(message)
    return missing


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers kept with a rejected webhook, without credentials (a wrong shared secret sent in
    a header such as X-Kesu-Token is still a secret)."""
    return {k: ("[redacted]" if k in REDACTED_HEADERS or any(w in k for w in _SECRET_WORDS) else v)
            for k, v in headers.items()}


@dataclass
class Services:
    settings: Settings
    engine: Engine
    host: PluginHost
    connector: Connector
    pipeline: Pipeline
    inbox: Inbox
    runners: list[Runner] = field(default_factory=list)
    #: Group-bot delivery (WeCom, DingTalk, Feishu) when ``[policies.notifiers]`` has channels.
    notifier: BotNotifier | None = None
    #: "Now" for the pipeline, the workers, the timer loop and the intake's receipt times; a test
    #: may pass a controllable clock to run a ticket's life at chosen instants.
    clock: Callable[[], datetime] = utcnow

    @classmethod
    def build(cls, settings: Settings, *, run_migrations: bool = True,
              load_entrypoints: bool = True, clock: Callable[[], datetime] = utcnow) -> Services:
        # A connection for every worker thread, the heartbeat and the loops beside them.
        engine = make_engine(settings.store.url, pool_size=max(8, settings.worker.threads + 4))
        if run_migrations:
            migrate(engine)
        pm = build_plugin_manager(settings.plugins.disabled, load_entrypoints=load_entrypoints)
        host = PluginHost(pm, settings.policies, settings.plugins.disabled, settings.profile)
        host.warm_up()
        connector_cls = host.connector_class(settings.helpdesk.kind)
        connector = connector_cls(settings.helpdesk)  # type: ignore[call-arg]
        renderer = NoteRenderer(settings.notes.language, settings.notes.timezone)
        pipeline = Pipeline(engine=engine, connector=connector, host=host, renderer=renderer, clock=clock,
                            write_hold=timedelta(seconds=settings.worker.lease_seconds))
        notifier = attach_notifier(host, engine, helpdesk_url=settings.helpdesk.url,
                                   helpdesk_kind=settings.helpdesk.kind, clock=clock)
        return cls(settings=settings, engine=engine, host=host, connector=connector,
                   pipeline=pipeline, inbox=pipeline.inbox, clock=clock, notifier=notifier)

    def start_workers(self, *, timers: bool = True, loops: bool = True, threads: int | None = None) -> Runner:
        """Worker threads (``threads``, default ``[worker] threads``), the timer loop (``timers``)
        and, with ``loops``, the catch-up poll, the report loop and the group-bot delivery: one
        process of a set of worker processes runs these once for all (``kesu.processes``)."""
        runner = Runner(self.pipeline, self.settings.worker, timers=timers, clock=self.clock, threads=threads)
        interval = self.settings.worker.sync_interval or type(self.connector).reconcile_interval
        if loops and interval > 0:
            runner.add_loop("kesu-sync", self._sync_loop(interval, runner))
        if loops and timers and self.settings.reports.automatic:
            from kesu.report.labels import Catalogue
            from kesu.report.runs import report_loop  # last month's report, once (R-RPT-4.27)

            runner.add_loop("kesu-reports", report_loop(self.engine, self.settings.reports, self.host.notify,
                                                         catalogue=Catalogue.from_settings(self.settings)))
        if loops and self.notifier is not None:
            runner.add_loop("kesu-bots", self.notifier.loop)
        runner.start()
        self.runners.append(runner)
        return runner

    def _sync_loop(self, interval: float, runner: Runner) -> Callable[[threading.Event], None]:
        """Catch-up polling every ``interval`` seconds (``[worker] sync_interval``)."""
        from kesu.sync import poll_once

        def loop(stop: threading.Event) -> None:
            while not stop.wait(interval):
                try:
                    if poll_once(self).queued:
                        runner.wake.set()
                except Exception as exc:  # noqa: BLE001 -- the helpdesk may be down; try next round
                    log.warning("catch-up poll failed: %s", exc)

        return loop

    def close(self) -> None:
        for r in self.runners:
            r.stop()
        self.runners.clear()
        self.connector.close()
        self.engine.dispose()


def create_app(services: Services, *, workers: bool = True, worker_threads: int | None = None) -> FastAPI:
    """The HTTP app; with ``workers`` it also runs the worker threads and timer loop
    (``worker_threads``: how many, default ``[worker] threads``; 0 when worker processes do it)."""
    writer = GroupCommitWriter(services.inbox)
    helpdesk = services.settings.helpdesk.name
    kind = services.settings.helpdesk.kind
    connector = services.connector

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warn_missing_secrets(services.settings)
        prepare = getattr(connector, "prepare", None)
        if prepare is not None:
            try:
                prepare()
            except Exception as exc:  # noqa: BLE001 -- the helpdesk may be down at start; intake still works
                log.warning("could not prepare the %s connector yet: %s", kind, exc)
        writer.start()
        if workers:
            runner = services.start_workers(threads=worker_threads)
            writer.on_commit = lambda n: runner.wake.set() if n else None
        try:
            yield
        finally:
            writer.stop()
            for r in services.runners:
                r.stop()
            services.runners.clear()

    app = _App(title="kesu", version=_version(), lifespan=lifespan, docs_url=None, redoc_url=None)
    from kesu.apidocs import mount_docs  # Swagger UI from local assets, not a CDN

    mount_docs(app)
    if services.settings.server.protect_meta:
        app.add_middleware(ProtectMeta, admin=services.settings.admin)

    async def reject(status: int, reason: str, headers: dict[str, str], body: bytes,
                     dropped: int = 0) -> JSONResponse:
        """Answer ``status`` and keep the delivery within the [server] rejected_* budget;
        ``dropped`` counts body bytes read but not passed in ``body``."""
        metrics.WEBHOOKS_REJECTED.labels(str(status)).inc()
        kept = redact_headers(headers)
        server = services.settings.server
        body_kept = body[:server.rejected_body_bytes]
        metrics.REJECTED_DROPPED.labels("bytes").inc(dropped + len(body) - len(body_kept))
        now = services.clock()
        rejected_id, pruned = await to_thread.run_sync(
            lambda: services.inbox.reject_within(
                helpdesk=helpdesk, status_code=status, reason=reason, headers=kept, body=body_kept, at=now,
                keep=server.rejected_keep, since=now - timedelta(days=server.rejected_retention_days))
        )
        metrics.REJECTED_DROPPED.labels("rows").inc(pruned)
        log.warning("rejected webhook %s (%d): %s", rejected_id, status, reason)
        return JSONResponse({"error": reason, "rejected_id": rejected_id}, status_code=status)

    async def intake(hook_kind: str, headers: dict[str, str], body_chunks: AsyncIterator[bytes],
                     query_string: str) -> Response | bytes:
        """One delivery: verify, store (group commit), answer. The 202's body as bytes (the hot
        path sends it as it is), any other answer as a response."""
        if hook_kind != kind:
            return JSONResponse({"error": f"no webhook here for {hook_kind!r}; this kesu serves {kind!r}"},
                                status_code=404)
        max_body = services.settings.server.max_body_bytes
        length = headers.get("content-length", "").strip()
        # isdecimal() alone admits "²"-like digits; 20 digits already exceed any sane cap.
        if length.isascii() and length.isdecimal() and (len(length) > 20 or int(length) > max_body):
            return await reject(413, f"body of {length[:40]} bytes exceeds {max_body}", headers, b"")
        # Read while counting: a chunked body (no Content-Length) is cut off at the cap, never
        # buffered whole.
        chunks: list[bytes] = []
        size = 0
        async for chunk in body_chunks:
            size += len(chunk)
            if size > max_body:
                head = b"".join(chunks)
                return await reject(413, f"body exceeds {max_body} bytes (read {size} before stopping)",
                                    headers, head, dropped=size - len(head))
            chunks.append(chunk)
        body = b"".join(chunks)
        query = dict(parse_qsl(query_string, keep_blank_values=True)) if query_string else {}
        try:
            hint = connector.parse_webhook(headers, body, query)
        except WebhookRejected as exc:
            return await reject(exc.status, exc.reason, headers, body)
        except Exception as exc:  # noqa: BLE001 -- a payload shape the connector did not foresee
            # is the sender's fault: 422 with the reason and the body kept, never a 500.
            log.warning("connector %s could not read a webhook", kind, exc_info=True)
            return await reject(422, f"payload could not be read: {type(exc).__name__}: {exc}"[:500],
                                headers, body)
        problem = hint_problem(hint)
        if problem is not None:
            return await reject(422, problem, headers, body)
        event = NewEvent(
            helpdesk=helpdesk, ticket_id=hint.ref.id, kind=hint.kind.value, source="webhook",
            received_at=services.clock(), delivery_id=hint.delivery_id,
            payload={"actor": hint.actor, **hint.facts},
            status="skipped" if hint.self_caused else "pending",
        )
        try:
            event_id = await writer.submit(event)
        except Exception as exc:  # noqa: BLE001 -- not stored: tell the helpdesk to retry
            log.error("could not store webhook: %s", exc)
            return JSONResponse({"error": "storage unavailable, retry later"}, status_code=503)
        if event_id is None:
            metrics.WEBHOOKS_DUPLICATE.inc()
            return JSONResponse({"status": "duplicate", "delivery": hint.delivery_id}, status_code=200)
        metrics.EVENTS_RECEIVED.labels("webhook").inc()
        status = b"ignored: caused by kesu" if hint.self_caused else b"accepted"
        return b'{"status":"%s","id":%d}' % (status, event_id)

    async def webhook(request: Request) -> Response:
        """The route (``/docs`` lists it; requests a server hands straight to ``webhook_asgi``
        never reach it)."""
        answer = await intake(request.path_params["hook_kind"], {k.lower(): v for k, v in request.headers.items()},
                              request.stream(), request.url.query)
        if isinstance(answer, bytes):
            return Response(answer, status_code=202, media_type="application/json")
        return answer

    async def webhook_asgi(scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /webhooks/<kind>`` straight from the server (``_App``): ``intake`` without the
        framework's middleware, routing and request objects (half of the request's CPU), the 202
        sent as it is."""

        async def body() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnect()
                yield message.get("body", b"")
                if not message.get("more_body", False):
                    return

        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            answer = await intake(scope["path"][len("/webhooks/"):], headers, body(),
                                  scope.get("query_string", b"").decode("latin-1"))
        except ClientDisconnect:
            return  # the sender gave up before its body was read: nothing stored, nobody to answer
        if isinstance(answer, bytes):
            await send({"type": "http.response.start", "status": 202,
                        "headers": [(b"content-length", b"%d" % len(answer)), (b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": answer})
        else:
            await answer(scope, receive, send)

    app.router.routes.insert(0, Route("/webhooks/{hook_kind}", webhook, methods=["POST"]))
    app.webhook = webhook_asgi
    fastapi_openapi = app.openapi

    def openapi() -> dict[str, Any]:  # FastAPI's, plus the webhook it does not see (a plain route)
        schema = fastapi_openapi()
        schema["paths"].setdefault("/webhooks/{hook_kind}", webhook_openapi(kind))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/healthz")
    def healthz() -> Response:
        try:
            with services.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001
            return JSONResponse({"status": "error", "store": str(exc)}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    from kesu.admin import mount_admin  # /admin/api and the /admin page

    mount_admin(app, services)
    return app


class _App(FastAPI):
    """kesu's app: ``POST /webhooks/<name>`` goes to ``webhook`` (set by ``create_app``) before
    FastAPI's middleware and routing, every other request through them as usual."""

    webhook: Callable[[Scope, Receive, Send], Any] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (self.webhook is not None and scope["type"] == "http" and scope["method"] == "POST"
                and scope["path"].startswith("/webhooks/") and "/" not in scope["path"][10:]
                and scope["path"] != "/webhooks/"):
            await self.webhook(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _version() -> str:
    from kesu import __version__

    return __version__
