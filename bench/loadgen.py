"""A closed-loop HTTP/1.1 keep-alive load generator for signed Zammad webhooks (own process).

    python bench/loadgen.py --port P --bodies FILE --requests 20000 --connections 32 --out R.json

``FILE`` is a pickle of ``[(body: bytes, signature: str), ...]`` (written by ``bench/intake.py``).
Request ``i`` posts body ``i % len(bodies)`` with its precomputed ``X-Hub-Signature`` and a unique
``X-Zammad-Delivery`` (``<run id>-<i>``), exactly like Zammad's webhook job. Each connection
sends one request, waits for the whole response, then sends the next; latency is measured per
request from the write to the last byte of the answer. A warm-up phase (not measured) runs first.
Only 127.0.0.1 is ever contacted; the run stops after the given count or ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import sys
import time
import uuid
from collections import Counter
from typing import Any

HOST = "127.0.0.1"


class _Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost = exc or ConnectionError("server closed the connection")
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(self.lost)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = bytes(self.buf[:head_end]).lower()
        pos = head.find(b"\r\ncontent-length:")
        if pos < 0:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(ValueError("response without content-length"))
            return
        end = head.find(b"\r\n", pos + 2)
        length = int(head[pos + 17: end if end > 0 else None])
        total = head_end + 4 + length
        if len(self.buf) < total:
            return
        status = int(self.buf[9:12])
        del self.buf[:total]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(status)


async def _phase(conns: list[_Conn], build: Any, start: int, count: int, timeout: float,
                 record: bool) -> tuple[list[float], Counter[int], float, float]:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    nxt = start
    end = start + count

    async def run(conn: _Conn) -> None:
        nonlocal nxt
        while nxt < end:
            i = nxt
            nxt += 1
            request = build(i)
            conn.waiter = loop.create_future()
            t0 = time.perf_counter()
            conn.transport.write(request)  # type: ignore[union-attr]
            status = await asyncio.wait_for(conn.waiter, timeout)
            if record:
                latencies.append(time.perf_counter() - t0)
            statuses[status] += 1

    cpu0 = sum(os.times()[:2])
    t0 = time.perf_counter()
    await asyncio.gather(*(run(c) for c in conns))
    elapsed = time.perf_counter() - t0
    cpu = sum(os.times()[:2]) - cpu0
    return latencies, statuses, elapsed, cpu


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with open(args.bodies, "rb") as f:
        bodies: list[tuple[bytes, str]] = pickle.load(f)
    run_id = args.run_id or uuid.uuid4().hex[:12]
    heads = []
    for body, signature in bodies:
        heads.append((
            f"POST {args.path} HTTP/1.1\r\nHost: {HOST}:{args.port}\r\n"
            "User-Agent: Zammad User Agent\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"X-Zammad-Trigger: kesu\r\nX-Hub-Signature: {signature}\r\n"
            f"Content-Length: {len(body)}\r\nX-Zammad-Delivery: ".encode(),
            b"\r\n\r\n" + body,
        ))
    n_bodies = len(heads)

    def build(i: int) -> bytes:
        head, tail = heads[i % n_bodies]
        return head + f"{run_id}-{i:08d}".encode() + tail

    loop = asyncio.get_running_loop()
    conns = []
    for _ in range(args.connections):
        _, proto = await loop.create_connection(_Conn, HOST, args.port)
        conns.append(proto)

    async def both() -> dict[str, Any]:
        if args.warmup:
            _, wstat, _, _ = await _phase(conns, build, 0, args.warmup, args.timeout, False)
        else:
            wstat = Counter()
        lat, stat, elapsed, cpu = await _phase(conns, build, args.warmup, args.requests, args.timeout, True)
        lat.sort()

        def pct(p: float) -> float:
            return lat[max(0, min(len(lat) - 1, int(round(p / 100 * len(lat) + 0.5)) - 1))] * 1000

        return {
            "run_id": run_id,
            "connections": args.connections,
            "warmup": args.warmup,
            "requests": args.requests,
            "warmup_statuses": dict(wstat),
            "statuses": dict(stat),
            "elapsed_s": elapsed,
            "rps": args.requests / elapsed,
            "latency_ms": {"mean": sum(lat) / len(lat) * 1000, "p50": pct(50), "p90": pct(90),
                           "p99": pct(99), "p999": pct(99.9), "max": lat[-1] * 1000},
            "client_cpu_s": cpu,
            "client_cpu_us_per_request": cpu / args.requests * 1e6,
            "body_bytes_mean": sum(len(b) for b, _ in bodies) / n_bodies,
        }

    try:
        return await asyncio.wait_for(both(), args.max_seconds)
    finally:
        for c in conns:
            if c.transport is not None:
                c.transport.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/webhooks/zammad")
    p.add_argument("--bodies", required=True)
    p.add_argument("--requests", type=int, default=20000)
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--timeout", type=float, default=30.0, help="per request (s)")
    p.add_argument("--max-seconds", type=float, default=240.0, help="whole run (s)")
    p.add_argument("--run-id", default=None)
    p.add_argument("--loop", choices=["asyncio", "uvloop"], default="uvloop")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    if args.loop == "uvloop":
        try:
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        except ImportError:
            args.loop = "asyncio"
    result = asyncio.run(main_async(args))
    result["client_loop"] = args.loop
    result["process_cpu_s"] = sum(os.times()[:2])
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
