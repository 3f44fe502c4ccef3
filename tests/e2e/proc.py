"""Running `monitor` as a separate process, the way users and service managers do."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import ROOT


def monitor_env(**extra: str) -> dict[str, str]:
    """This checkout's `monitor` (whatever copy the virtualenv installed), and no MONITOR_*
    settings leaking in from the developer's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def run_monitor(
    *args: str, cwd: Path, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=cwd,
        env=monitor_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Service:
    """`monitor run -c CONFIG` as a service manager starts it, and the lines it writes (stdout
    and stderr together) as they come. `kill()` is SIGKILL, `stop()` is SIGTERM."""

    def __init__(self, config: Path, *, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "-c", str(config)],
            cwd=cwd,
            env=env or monitor_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # Its own process group, so that `close()` can stop the extraction pool's children
            # too: left alive, they hold the output pipe open and the reader never ends.
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(
            target=lambda: self.lines.extend(iter(self.proc.stdout.readline, "")),  # type: ignore[union-attr]
            daemon=True,
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.running():
            self.proc.kill()
        self.proc.wait()

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, and the exit code (killed if it does not stop within `timeout`)."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.wait()

    def close(self) -> None:
        """Kill it and whatever it started."""
        self.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._reader.join(timeout=5)
        if not self._reader.is_alive():  # closing a pipe another thread still reads would block
            self.proc.stdout.close()  # type: ignore[union-attr]


@contextmanager
def daemon(
    config: Path, *, cwd: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`monitor run -c CONFIG` (a `Service`) for the block; killed at the end if it is still
    running."""
    service = Service(config, cwd=cwd, env=env)
    try:
        yield service.proc, service.lines
    finally:
        service.close()
