"""The online scene of ``receipts demo`` (互联互通, 便民): 宁夏 and the national federation run
their nodes (``receipts serve``) on loopback ports, 银川 and then 宁夏 sync over HTTP, a receipt
is checked through 宁夏's public 查验 page, and the nodes are stopped cleanly
(docs/operations.md, "Running the node" and "Push and sync")."""

from __future__ import annotations

import html
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from receipts.commands.demo_runner import Demo, DemoFailed

__all__ = ["online"]

_START_SECONDS = 30.0
"""How long a node may take to answer its health check."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _configure(demo: Demo, org: str, port: int | None, upstream: int | None) -> None:
    """``[serve]`` and ``[upstream]`` in ``org``'s receipts.toml, as an operator writes them."""
    text = ""
    if port is not None:
        text += f'\n[serve]\nport = {port}\naccess_log = "logs/access.jsonl"\n'
    if upstream is not None:
        text += f'\n[upstream]\nurl = "http://127.0.0.1:{upstream}"\ntimeout = 60\n'
    with (demo.home(org) / "receipts.toml").open("a", encoding="utf-8") as config:
        config.write(text)


@contextmanager
def _nodes(demo: Demo, ports: dict[str, int]) -> Iterator[dict[str, str]]:
    """``receipts serve`` of each org in ``ports``, each in its own process, started together
    (the signing key unlocked by the demo's environment, so that a node signs
    acknowledgements); their URLs by org; each stopped with SIGTERM afterwards, which must end it
    cleanly."""
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for org, port in ports.items():
            argv = [sys.executable, "-m", "cli", "--home", str(demo.home(org)), "serve"]
            demo.say(f"      $ receipts --home {org} serve &        (port {port}, from [serve])")
            processes[org] = subprocess.Popen(
                argv, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
        urls = {org: f"http://127.0.0.1:{port}" for org, port in ports.items()}
        for org, process in processes.items():
            _wait_healthy(process, urls[org])
        yield urls
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for org, process in processes.items():
            _stopped(demo, org, process)


def _stopped(demo: Demo, org: str, process: subprocess.Popen[bytes]) -> None:
    """Wait for a node told to stop; it must exit 0 (a graceful stop)."""
    try:
        code = process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise DemoFailed(f"the node of {org} did not stop within 40 s") from None
    errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if code == -signal.SIGKILL:  # it failed to start: already reported
        return
    if code != 0:
        raise DemoFailed(f"the node of {org} exited {code}: {errors.strip()}")
    demo.say(f"        node of {org} stopped cleanly (SIGTERM, exit 0)")


def _wait_healthy(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + _START_SECONDS
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise DemoFailed(f"the node at {url} did not start: {errors.strip()}")
        time.sleep(0.1)


def _check_on_page(demo: Demo, url: str, ref: str) -> None:
    """Fill in the 查验 form of the node at ``url`` for ``ref`` (CODE NUMBER) as a payer would,
    with the check code printed on the receipt, and say what the page answered."""
    code, number = ref.split()
    check = json.loads(demo.run("640100", "--json", "show", code, number))["check_code"]
    form = {"code": code, "number": number, "check": check.upper()}
    page = httpx.post(f"{url}/lookup", data=form, timeout=10)
    status = re.search(r'id="status">(.*?)</p>', page.text, re.S)
    if page.status_code != 200 or status is None:
        raise DemoFailed(f"the 查验 page answered {page.status_code} for {ref}")
    demo.say(f"        POST {url}/lookup  code={code} number={number} check={form['check']}")
    demo.say(f"        → {html.unescape(status.group(1)).strip()}")


def online(demo: Demo, first: str, reversed_ref: str) -> None:
    """``first``: a valid receipt of 银川 as ``CODE NUMBER``; ``reversed_ref``: CODE-NUMBER of
    the one reversed."""
    demo.step(
        "Online (互联互通): 宁夏 and the national federation run their nodes; 银川, then 宁夏, "
        "sync over HTTP; a payer checks receipts on the public 查验 page"
    )
    demo.run("000000", "org", "add", "--code", "640000")
    province, national = _free_port(), _free_port()
    _configure(demo, "000000", national, None)
    _configure(demo, "640000", province, national)
    _configure(demo, "640100", None, province)
    with _nodes(demo, {"000000": national, "640000": province}) as urls:
        url = urls["640000"]
        # The receipt withheld from 宁夏 before travels now; both rounds then agree.
        demo.run("640100", "sync", show=True)
        demo.run("640000", "sync", show=True)
        demo.say(f"        查验 page of 宁夏: {url}/  (open it in a browser while the demo runs)")
        _check_on_page(demo, url, first)
        code, number = reversed_ref.split("-")
        _check_on_page(demo, url, f"{code} {int(number)}")
