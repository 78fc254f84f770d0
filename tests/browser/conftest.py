"""Headless Chromium for the admin page: Debian's ``chromium`` and ``chromedriver`` driven by
Selenium (no browser download; ``.ci/run`` installs the packages when they are missing).

These tests never skip: a machine without the browser fails them with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from kesu.app import Services, create_app

CHROMIUM = os.environ.get("KESU_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("KESU_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,1000", "--lang=zh-CN"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def browser() -> Iterator[object]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is required (apt-get install -y chromium chromium-driver; .ci/run does it)")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a browser or driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="kesu-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class Served:
    url: str
    services: Services
    server: uvicorn.Server


@pytest.fixture
def served_kesu(tmp_path: Path) -> Iterator[object]:
    """Start kesu's HTTP app (no workers) on a free port; the caller fills ``services`` first."""
    servers: list[tuple[uvicorn.Server, threading.Thread, Services]] = []

    def start(services: Services) -> Served:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(services, workers=False), host="127.0.0.1", port=port,
                                               log_level="warning", access_log=False, lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "kesu did not start"
            time.sleep(0.02)
        servers.append((server, thread, services))
        return Served(f"http://127.0.0.1:{port}", services, server)

    yield start
    for server, thread, services in servers:
        server.should_exit = True
        thread.join(10)
        services.close()
