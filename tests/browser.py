"""Helpers for tests that drive a real `qcode review serve` process with headless Chromium
(Debian's chromium and chromium-driver; `.ci/run` installs both)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .conftest import REPO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(os.environ.get("QCODE_TEST_ARTIFACTS", REPO / "out" / "test-artifacts"))


def need_browser() -> None:
    """Skip where no browser is installed, but fail in CI, where .ci/run installs one."""
    if CHROMIUM and CHROMEDRIVER:
        return
    if os.environ.get("CI"):
        pytest.fail("chromium and chromedriver are missing in CI (.ci/run installs them)")
    pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")


def qcode_env(cache_dir: Path) -> dict[str, str]:
    return {**os.environ, "QCODE_CACHE_DIR": str(cache_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def run_qcode(args: list[str], cache_dir: Path, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", *args], env=qcode_env(cache_dir), capture_output=True, text=True, timeout=600
    )
    if check and done.returncode != 0:
        raise AssertionError(f"qcode {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done


class Server:
    """`qcode review serve ... --port 0` in its own process; `.url` is the printed address."""

    def __init__(self, args: list[str], cache_dir: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "review", "serve", *args, "--port", "0"],
            env=qcode_env(cache_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        deadline = time.monotonic() + 120
        self.url = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            found = re.search(r"open (http://\S+)", line)
            if found:
                self.url = found.group(1)
                break
        if not self.url:
            self.proc.kill()
            raise AssertionError("the server printed no address:\n" + "".join(self.output))
        self.base = self.url.split("/?")[0]
        self.key = self.url.split("key=")[1]
        # read the rest as it comes: a full pipe would block the server mid-write
        self._reader = threading.Thread(target=lambda: self.output.extend(self.proc.stdout), daemon=True)
        self._reader.start()

    def stop(self, grace: float = 60) -> int:
        """SIGTERM, then SIGKILL (-9) if it has not ended within `grace` seconds (a shared
        2-core CI machine can be slow to start and stop it); what it printed goes to
        stderr then, for the failure's report."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                print("the server did not stop on SIGTERM; it printed:\n" + "".join(self.output), file=sys.stderr)
        return self.proc.wait()

    def printed(self, timeout: float) -> str:
        """Everything it printed, once it has ended (within `timeout` seconds)."""
        self.proc.wait(timeout)
        self._reader.join(timeout)
        return "".join(self.output)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


# Chromium offline and quiet: no network of its own, no first-run or sync work
QUIET_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chrome(width: int = 1400, height: int = 1000):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium look for drivers online
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", *QUIET_FLAGS, f"--window-size={width},{height}"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path
