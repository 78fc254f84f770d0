"""Worker processes: several processes drain one store, supervised by the process that started them.

``kesu worker --processes N`` (or ``[worker] processes = N``) and ``kesu serve --worker-processes N``
start N worker processes, each with its own database connections, helpdesk session, plugin host
and ``[worker] threads`` worker threads, so that the work of N × threads workers is spread over
the machine's cores (one Python process runs Python code on one core at a time). Processes are
*spawned* (a fresh interpreter each, never a fork of a process that already holds threads,
connections or sockets) and get the parent's settings as they were resolved (config file,
``KESU_*``, command-line options, an embedded sandbox's address).

* **One ticket at a time, in order**: every worker in every process claims through
  ``kesu.store.inbox.Inbox.claim`` (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite: ``BEGIN
  IMMEDIATE``): a ticket with an event in progress or an older one waiting is never claimed.
* **Once-only loops**: the timer loop, the catch-up poll, the report loop and the group-bot
  delivery run in process 0 only (``kesu worker``), or in ``kesu serve`` itself.
* **Stopping** (SIGTERM or SIGINT to the parent, or Ctrl-C): the parent sends SIGTERM to every
  process; each stops claiming, lets its workers finish their claims for ``[worker]
  shutdown_seconds`` and hands the unfinished ones back to the queue (``Runner.stop``). A process
  still alive ``KILL_AFTER`` seconds later is killed; its claims come back when their lease ends.
  A worker process whose parent disappeared stops the same way.
* **A process that dies** (killed, out of memory, a bug) is reported and started again, after a
  pause that doubles while it keeps dying young (at most ``RESTART_MAX`` seconds); its claims come
  back when their lease ends. A process that dies ``GIVE_UP_AFTER`` times in a row within
  ``YOUNG`` seconds of its start (a wrong setting, the database gone) stops them all, and the
  parent exits with a one-line error.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import wait as wait_sentinels
from typing import Any

from kesu.errors import OperatorError
from kesu.settings import Settings

log = logging.getLogger(__name__)

#: A process that dies within this many seconds of its start died young.
YOUNG = 10.0
#: Dying young this many times in a row stops all worker processes.
GIVE_UP_AFTER = 5
#: Longest pause before a dead process is started again (s).
RESTART_MAX = 30.0
#: Seconds beyond ``shutdown_seconds`` a stopping process gets before it is killed.
KILL_AFTER = 5.0
#: Exit code of a worker process that could not start (settings, store, helpdesk).
EXIT_START_FAILED = 3

_SPAWN = multiprocessing.get_context("spawn")


class WorkerProcessesFailed(OperatorError):
    """The worker processes keep dying right after they start."""


def settings_payload(settings: Settings) -> dict[str, Any]:
    """What a spawned process needs to rebuild ``settings`` exactly (picklable; secrets stay
    ``SecretStr``)."""
    return {"values": settings.model_dump(), "config_path": settings.config_path}


def rebuild_settings(payload: dict[str, Any]) -> Settings:
    settings = Settings(**payload["values"])  # explicit values win over the environment
    settings.config_path = payload["config_path"]
    return settings


class _ProcessIndex(logging.Filter):
    """Every log line of a worker process names its index (``"worker_process": 2``)."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker_process = self.index
        return True


def child_main(payload: dict[str, Any], index: int, timers: bool, loops: bool, threads: int | None,
               log_level: str) -> None:
    """Body of one worker process (spawned; runs until SIGTERM/SIGINT or its parent is gone)."""
    from kesu.logs import configure_logging

    configure_logging(log_level)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_ProcessIndex(index))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    parent = os.getppid()
    try:
        from kesu.app import Services

        settings = rebuild_settings(payload)
        services = Services.build(settings, run_migrations=False)  # the parent migrated
        prepare = getattr(services.connector, "prepare", None)
        if prepare is not None:
            prepare()
        runner = services.start_workers(timers=timers, loops=loops, threads=threads)
    except Exception as exc:  # noqa: BLE001 -- reported in one line; the parent decides
        from kesu.errors import explain

        failure = explain(exc, store_url=payload["values"].get("store", {}).get("url"))
        log.error("worker process %d could not start: %s", index,
                  failure.line("en") if failure is not None else f"{type(exc).__name__}: {exc}",
                  exc_info=failure is None)
        logging.shutdown()
        os._exit(EXIT_START_FAILED)
    log.info("worker process %d (pid %d) started: %d worker thread(s)%s", index, os.getpid(),
             len(runner.workers), ", timers" if timers else "")
    while not stop.wait(1.0):
        if os.getppid() != parent:
            log.warning("worker process %d: its parent is gone; stopping", index)
            break
    runner.stop()
    unfinished = runner.busy()
    services.runners.clear()  # stopped above; ``close`` must not wait for them again
    if not unfinished:
        services.close()
    log.info("worker process %d stopped", index)
    logging.shutdown()
    # Threads still inside a claim (handed back above) must not run on: leave at once.
    os._exit(0)


@dataclass
class _Slot:
    index: int
    process: Any = None
    started: float = 0.0
    young_deaths: int = 0
    restart_at: float | None = None


class Supervisor:
    """Starts ``processes`` worker processes, starts again those that die, stops them all.

    ``threads``: worker threads per process (default ``[worker] threads``). ``timers`` and
    ``loops``: whether process 0 runs the timer loop and the other once-only loops (``kesu serve``
    runs them itself and passes ``False``).
    """

    def __init__(self, settings: Settings, processes: int, *, threads: int | None = None,
                 timers: bool = True, loops: bool = True, log_level: str = "INFO") -> None:
        if processes < 1:
            raise ValueError("processes must be at least 1")
        self.settings = settings
        self.payload = settings_payload(settings)
        self.threads = threads
        self.timers = timers
        self.loops = loops
        self.log_level = log_level
        self.slots = [_Slot(i) for i in range(processes)]
        self.restarts = 0
        self._stopping = False
        self._lock = threading.Lock()

    @property
    def pids(self) -> list[int]:
        return [s.process.pid for s in self.slots if s.process is not None and s.process.is_alive()]

    def _spawn(self, slot: _Slot) -> None:
        first = slot.index == 0
        slot.process = _SPAWN.Process(
            target=child_main, name=f"kesu-worker-process-{slot.index}",
            args=(self.payload, slot.index, self.timers and first, self.loops and first, self.threads,
                  self.log_level))
        slot.process.start()
        slot.started = time.monotonic()
        slot.restart_at = None

    def start(self) -> None:
        with self._lock:
            for slot in self.slots:
                self._spawn(slot)

    def check(self) -> None:
        """Report and schedule dead processes, start those whose pause is over; raises
        ``WorkerProcessesFailed`` when a process keeps dying young."""
        now = time.monotonic()
        with self._lock:
            if self._stopping:
                return
            for slot in self.slots:
                p = slot.process
                if p is not None and slot.restart_at is None and not p.is_alive():
                    p.join(0)
                    lived = now - slot.started
                    slot.young_deaths = slot.young_deaths + 1 if lived < YOUNG else 1
                    if slot.young_deaths >= GIVE_UP_AFTER:
                        code = p.exitcode
                        raise WorkerProcessesFailed(
                            f"工作进程 {slot.index} 启动后连续 {slot.young_deaths} 次退出（退出码 {code}），"
                            "已停止全部工作进程；请查看上面的日志",
                            f"worker process {slot.index} exited {slot.young_deaths} times in a row "
                            f"right after starting (exit code {code}); all worker processes stopped: "
                            "see the log above")
                    pause = min(RESTART_MAX, 0.5 * 2 ** (slot.young_deaths - 1))
                    slot.restart_at = now + pause
                    log.error("worker process %d (pid %s) exited with code %s after %.1fs; "
                              "starting it again in %.1fs", slot.index, p.pid, p.exitcode, lived, pause)
                if slot.restart_at is not None and now >= slot.restart_at:
                    self._spawn(slot)
                    self.restarts += 1

    def watch(self, stop: threading.Event, interval: float = 0.5) -> None:
        """Check the processes until ``stop`` is set (or one keeps dying: raises)."""
        while not stop.is_set():
            sentinels = [s.process.sentinel for s in self.slots
                         if s.process is not None and s.restart_at is None]
            if sentinels:
                wait_sentinels(sentinels, timeout=interval)
            else:
                stop.wait(interval)
            if not stop.is_set():
                self.check()

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM every process, wait for them (``shutdown_seconds`` + ``KILL_AFTER``), kill
        those still alive."""
        with self._lock:
            self._stopping = True
            alive = [s.process for s in self.slots if s.process is not None and s.process.is_alive()]
        for p in alive:
            try:
                os.kill(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        limit = self.settings.worker.shutdown_seconds + KILL_AFTER if timeout is None else timeout
        deadline = time.monotonic() + limit
        for p in alive:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in alive:
            if p.is_alive():
                log.error("worker process %s (pid %s) did not stop within %.0fs: killed; its claims "
                          "return to the queue when their lease ends", p.name, p.pid, limit)
                p.kill()
                p.join(5)


def run(settings: Settings, processes: int, *, threads: int | None = None, timers: bool = True,
        log_level: str = "INFO", started: Any = None) -> None:
    """Run worker processes in the foreground until SIGTERM/SIGINT (``kesu worker``)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    supervisor = Supervisor(settings, processes, threads=threads, timers=timers, log_level=log_level)
    try:
        supervisor.start()
        if started is not None:
            started(supervisor)
        supervisor.watch(stop)
    finally:
        supervisor.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
