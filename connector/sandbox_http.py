"""Serving a sandbox helpdesk's ASGI app from a background thread (tests and demos).

The port survives ``stop()``/``start()``: after ``stop()`` clients get "connection refused"
(the helpdesk is down), and ``start()`` serves again on the same port.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


class ThreadedServer:
    def __init__(self, app: Any, host: str, port: int, name: str) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> int:
        """Serve (binding ``port``; 0 picks a free one the first time); returns the port."""
        if self.running:
            return self.port
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(512)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2)
        server = uvicorn.Server(config)
        self._server = server
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                  name=f"{self.name}-{self.port}", daemon=True)
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"{self.name} failed to start")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not start in time")
            time.sleep(0.005)
        return self.port

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving; the port is released (connection refused) until ``start()``."""
        server, thread, sock = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout)
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
