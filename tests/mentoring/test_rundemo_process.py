"""The demo command as a newcomer runs it: a real `manage.py rundemo` on its own SQLite
database, with its Celery worker.  However the command is stopped, even by SIGKILL (no
finally block runs), no worker may be left running against the demo database.

Linux only (the worker asks the kernel for a parent-death signal).  The demo needs no
PostgreSQL or Redis, so this runs in every suite run (~10 s)."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces, so split after its closing paren.
    return raw[raw.rindex(")") + 2 :].split()


def _running(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")  # a zombie has stopped


def _celery_child(parent: int) -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields is None or int(fields[1]) != parent:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"celery" in cmdline:
            return int(entry.name)
    return None


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _left_behind(marker: str) -> list[int]:
    """Running processes whose command line mentions ``marker`` (the demo's own var dir)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline and _running(int(entry.name)):
                out.append(int(entry.name))
    return out


@pytest.mark.parametrize("stop", ["SIGKILL", "SIGTERM"])
def test_a_stopped_demo_leaves_no_worker_behind(tmp_path, stop):
    """SIGKILL: rundemo's own clean-up never runs, the kernel's parent-death signal stops the
    worker.  SIGTERM: rundemo stops the worker itself, promptly and without a traceback."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    var = tmp_path / "var"
    env.update(UPWARD_VAR_DIR=str(var), PYTHONUNBUFFERED="1")
    port = _free_port()
    log = (tmp_path / "rundemo.log").open("wb")
    demo = subprocess.Popen(
        [sys.executable, "manage.py", "rundemo", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    worker = None
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and demo.poll() is None:
            worker = worker or _celery_child(demo.pid)
            if worker and _answers(port):
                break
            time.sleep(0.5)
        output = (tmp_path / "rundemo.log").read_text(errors="replace")
        assert demo.poll() is None, f"rundemo exited early:\n{output[-3000:]}"
        assert worker is not None and _answers(port), f"no worker or no site after 180 s:\n{output[-3000:]}"

        # What a newcomer sees: the product's own "not found" page, styled (static files
        # are served with DEBUG off), not Django's debug page listing every URL.
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/no-such-page/", timeout=5)
            raise AssertionError("a made-up address answered 200")
        except urllib.error.HTTPError as missing:
            page = missing.read().decode()
            assert missing.code == 404 and "Page not found · Upward" in page and "URLconf" not in page, page[:2000]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/css/upward.css", timeout=5) as css:
            assert css.status == 200

        if stop == "SIGKILL":
            demo.kill()
            demo.wait(timeout=10)
        else:
            demo.send_signal(signal.SIGTERM)
            assert demo.wait(timeout=30) == 0
            output = (tmp_path / "rundemo.log").read_text(errors="replace")
            assert "Traceback" not in output, output[-3000:]
        deadline = time.monotonic() + 30
        while _left_behind(str(var)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _left_behind(str(var)), f"the Celery worker outlived the demo command stopped with {stop}"
    finally:
        for group in (demo.pid, worker):
            if group:
                try:
                    os.killpg(group, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        if demo.poll() is None:
            demo.kill()
            demo.wait(timeout=10)
        log.close()
