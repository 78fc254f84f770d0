"""``python -m connector.odoo.sandbox [--port 8069] [--version 17] [--flavour enterprise|oca]``.

Prints the URL, the database and every user's login, password and API key; optionally provisions
a webhook automation rule (``--webhook URL``, 17+) and runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import threading

from .server import SandboxOdoo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connector.odoo.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8069)
    parser.add_argument("--version", type=int, default=17, choices=(16, 17, 18, 19))
    parser.add_argument("--flavour", default="enterprise", choices=("enterprise", "oca"))
    parser.add_argument("--database", default="sandbox")
    parser.add_argument("--webhook", help="send ticket create/update webhooks to this URL (17+)")
    parser.add_argument("--api-key", action="append", default=[], metavar="LOGIN=KEY",
                        help="fix a user's API key (repeatable)")
    args = parser.parse_args(argv)

    keys = dict(item.split("=", 1) for item in args.api_key)
    sandbox = SandboxOdoo(args.host, args.port, version=args.version, flavour=args.flavour, database=args.database,
                          api_keys=keys)
    sandbox.start()
    print(f"sandbox Odoo {args.version} ({args.flavour}) listening on {sandbox.url}  database: {sandbox.database}")
    protocols = "/jsonrpc" + (" (deprecated), /json/2/<model>/<method>" if args.version >= 19 else "")
    print(f"  protocols: {protocols}")
    state = sandbox.state
    with state.lock:
        users = [u for u in state.tables["res.users"].values() if u.get("active")]
    for u in sorted(users, key=lambda u: u["id"]):
        groups = ",".join(sorted(state.groups.get(u["id"], ())))
        print(f"  uid {u['id']:>2}  {u['login']:<10} {groups:<12} password: {state.passwords[u['id']]:<10} "
              f"api key: {state.key_of.get(u['id'])}")
    print(f"  bot uid: {sandbox.bot_uid}")
    if args.webhook:
        ids = sandbox.add_webhook_automation(args.webhook, filter_domain=f"[('write_uid', '!=', {sandbox.bot_uid})]")
        print(f"  automation {ids['automation_id']} (action {ids['action_id']}) → {args.webhook}")
    print("Ctrl-C to stop.", flush=True)

    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    while not done.wait(0.5):
        pass
    sandbox.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
