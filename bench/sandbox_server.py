"""The sandbox Zammad in its own process, with a small control port for ``bench/events.py``.

    python bench/sandbox_server.py --port P --control-port C [--delivery-workers 4]

Port ``P`` is the sandbox's Zammad REST API (``/api/v1``), exactly as ``python -m
connector.zammad.sandbox`` serves it. Port ``C`` (127.0.0.1 only) lets the benchmark do what a
real helpdesk's users and admin would do, without going through the API kesu is measured on:

* ``GET  /info``            -- tokens, bot id, API URL;
* ``POST /wire``            -- ``{"endpoint", "secret", "exclude_bot": true}``: deactivate every
  trigger, then add kesu's webhook + create/update triggers (``SandboxZammad.wire_webhook``);
  ``{"off": true}`` only deactivates;
* ``POST /create``          -- ``{"n", "offset"}``: ``n`` customers (``kunde<k>@example.com``, one
  each) file a complaint (in-process, one Zammad transaction each, like the web form); answers
  ids and creation times;
* ``POST /article``         -- ``{"ids", "body", "as_user", "internal"}``: someone writes on each
  ticket (default: its customer);
* ``GET  /calls``           -- API calls so far by method and path pattern; ``POST /reset`` clears;
* ``GET  /deliveries``      -- webhook deliveries: total, ok, failed, pending;
* ``POST /tickets``         -- ``{"ids"}``: created_at, kesu notes (subject ``kesu #...``) with
  their created_at, tags, priority.

Ends on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import COMPLAINTS  # noqa: E402
from connector.zammad.sandbox import SandboxZammad  # noqa: E402

_ID = re.compile(r"/\d+")


def make_handler(zammad: SandboxZammad) -> type[BaseHTTPRequestHandler]:
    state = zammad.state

    def info(_: dict[str, Any]) -> Any:
        return {"url": zammad.url, "bot_login": zammad.bot_login, "bot_user_id": zammad.bot_user_id,
                "bot_token": zammad.token_for(zammad.bot_login),
                "customer_token": zammad.token_for("customer@example.com"),
                "admin_token": zammad.token_for("admin@example.com")}

    def wire(req: dict[str, Any]) -> Any:
        with state.lock:
            for trigger in state.triggers.values():
                trigger["active"] = False
        if req.get("off"):
            return {"triggers": "off"}
        excluded = None if req.get("exclude_bot", True) else []
        wired = zammad.wire_webhook(req["endpoint"], signature_token=req["secret"],
                                    exclude_user_ids=excluded, name=req.get("name", "kesu"))
        return {"webhook": wired["webhook"]["id"], "triggers": [t["id"] for t in wired["triggers"]]}

    surnames = "王李张刘陈杨黄赵吴周"
    given = ["芳", "伟", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军"]

    def customer(k: int) -> str:
        """A customer of its own for every complaint: one customer's repeated complaints are a
        fact the policies act on (escalation), which a benchmark must not fake."""
        login = f"kunde{k}@example.com"
        if state.find_user(login) is None:
            zammad.add_user(login, firstname=given[k % 10], lastname=surnames[(k // 10) % 10],
                            roles=("Customer",))
        return login

    def create(req: dict[str, Any]) -> Any:
        out = []
        offset = int(req.get("offset", 0))
        for i in range(int(req["n"])):
            k = offset + i
            title, body = COMPLAINTS[k % len(COMPLAINTS)]
            login = customer(k)
            t = state.create_ticket(zammad.user_id(login), {
                "title": title, "group": "Users", "customer": login,
                "article": {"subject": title, "body": f"{body}\n订单号 DD{20260000 + k}。",
                            "type": "web", "sender": "Customer", "internal": False},
            })
            out.append([t["id"], t["created_at"]])
        return {"tickets": out}

    def article(req: dict[str, Any]) -> Any:
        for tid in req["ids"]:
            zammad.add_article(int(tid), req.get("body", "请尽快处理。"), as_user=req.get("as_user"),
                               internal=bool(req.get("internal", False)))
        return {"ok": len(req["ids"])}

    def calls(_: dict[str, Any]) -> Any:
        counted = Counter((m, _ID.sub("/{id}", p)) for m, p in zammad.calls)
        return {"total": sum(counted.values()), "by": [[m, p, n] for (m, p), n in sorted(counted.items())]}

    def reset(_: dict[str, Any]) -> Any:
        zammad.reset_calls()
        zammad.clear_deliveries()
        return {"ok": True}

    def deliveries(_: dict[str, Any]) -> Any:
        recs = zammad.deliveries
        return {"attempts": len(recs), "ok": sum(1 for r in recs if r.ok),
                "failed_final": sum(1 for r in recs if r.final and not r.ok),
                "retried": sum(1 for r in recs if not r.ok and not r.final),
                "pending": zammad.dispatcher.pending()}

    def tickets(req: dict[str, Any]) -> Any:
        out = []
        for tid in req["ids"]:
            snap = zammad.ticket(int(tid))
            notes = [{"created_at": a["created_at"], "body": a["body"]}
                     for a in snap["articles"] if str(a.get("subject") or "").startswith("kesu #")]
            out.append({"id": snap["id"], "created_at": snap["created_at"], "notes": notes,
                        "tags": snap["tags"], "priority": snap.get("priority"),
                        "articles": len(snap["articles"])})
        return {"tickets": out}

    routes = {("GET", "/info"): info, ("POST", "/wire"): wire, ("POST", "/create"): create,
              ("POST", "/article"): article, ("GET", "/calls"): calls, ("POST", "/reset"): reset,
              ("GET", "/deliveries"): deliveries, ("POST", "/tickets"): tickets}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            req = json.loads(self.rfile.read(length) or b"{}")
            fn = routes.get((method, self.path))
            if fn is None:
                status, result = 404, {"error": "no such control route"}
            else:
                try:
                    status, result = 200, fn(req)
                except Exception as exc:  # noqa: BLE001 -- report to the driver
                    status, result = 500, {"error": repr(exc)}
            data = json.dumps(result, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--control-port", type=int, required=True)
    p.add_argument("--delivery-workers", type=int, default=4)
    p.add_argument("--retry-scale", type=float, default=0.01)
    args = p.parse_args(argv)
    zammad = SandboxZammad("127.0.0.1", args.port, retry_scale=args.retry_scale,
                           delivery_workers=args.delivery_workers)
    zammad.start()
    control = ThreadingHTTPServer(("127.0.0.1", args.control_port), make_handler(zammad))
    threading.Thread(target=control.serve_forever, daemon=True).start()
    print(f"sandbox {zammad.url} control http://127.0.0.1:{args.control_port}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    while not done.wait(0.5):
        pass
    control.shutdown()
    zammad.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
