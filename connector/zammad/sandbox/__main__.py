"""``python -m connector.zammad.sandbox [--host 127.0.0.1] [--port 3000]``: run a sandbox Zammad.

Prints the API URL and every user's token, optionally wires a webhook (``--webhook URL``) with the
"updated by is not the bot" triggers, and runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import threading

from .server import SandboxZammad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connector.zammad.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--webhook", help="endpoint to receive trigger webhooks (e.g. kesu's intake URL)")
    parser.add_argument("--signature-token", help="HMAC-SHA1 signature token for --webhook")
    parser.add_argument("--retry-scale", type=float, default=1.0,
                        help="multiply webhook retry waits (10/20/30/40 s) by this factor")
    parser.add_argument("--token", action="append", default=[], metavar="LOGIN=TOKEN",
                        help="fix a user's API token (repeatable)")
    args = parser.parse_args(argv)

    tokens = dict(item.split("=", 1) for item in args.token)
    sandbox = SandboxZammad(args.host, args.port, retry_scale=args.retry_scale, tokens=tokens)
    sandbox.start()
    print(f"sandbox Zammad listening on {sandbox.url}  (API: {sandbox.api_url})")
    with sandbox.state.lock:
        users = [u for u in sandbox.state.users.values() if u["id"] != 1]
    for u in users:
        roles = ",".join({1: "Admin", 2: "Agent", 3: "Customer"}[r] for r in u["role_ids"])
        print(f"  user {u['id']:>3}  {u['login']:<24} {roles:<14} token: {sandbox.token_for(u['login'])}")
    print(f"  bot user id: {sandbox.bot_user_id}")
    if args.webhook:
        wired = sandbox.wire_webhook(args.webhook, signature_token=args.signature_token)
        print(f"  webhook {wired['webhook']['id']} → {args.webhook} "
              f"(triggers: {', '.join(t['name'] for t in wired['triggers'])})")
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
