"""The load generators of bench/serve.py: ``wrk`` driven by a Lua script (C, leaves the cores to
the node) and a small asyncio HTTP/1.1 client in Python (the fallback when ``wrk`` is absent).
Both send public look-ups, ``GET /api/v1/lookup``, over keep-alive connections
(docs/operations.md, "Benchmarks")."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

Query = tuple[str, int, str]
"""Receipt code, number, check code."""


async def _client(
    port: int, jobs: list[Query], latencies: list[float], deadline: float
) -> tuple[int, int]:
    """One keep-alive connection asking for ``jobs`` in turn; (answers, answers not 200)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = bad = 0
    try:
        for code, number, check in jobs:
            if time.perf_counter() > deadline:
                break
            start = time.perf_counter()
            writer.write(
                f"GET /api/v1/lookup?code={code}&number={number}&check={check} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            done += 1
            bad += not head.startswith(b"HTTP/1.1 200 ")
    finally:
        writer.close()
    return done, bad


async def over_http(
    port: int, work: list[Query], clients: int, seconds: float
) -> tuple[list[float], float, int]:
    """``work`` shared among ``clients`` keep-alive connections (the Python client) for at most
    ``seconds``: the latencies, elapsed s, and answers not 200."""
    latencies: list[float] = []
    start = time.perf_counter()
    deadline = start + seconds
    counts = await asyncio.gather(
        *(_client(port, work[k::clients], latencies, deadline) for k in range(clients))
    )
    return latencies, time.perf_counter() - start, sum(bad for _, bad in counts)


_WRK_SCRIPT = """
-- bench/serve_load.py: the look-ups listed in a file (one path a line) in turn, again and again.
local threads = {}
function setup(thread) threads[#threads + 1] = thread end
function init(args)
  paths, sent, bad = {}, 0, 0
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
end
function request()
  sent = sent + 1
  return wrk.format("GET", paths[(sent - 1) % #paths + 1])
end
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), b))
end
"""


def by_wrk(
    base: str, work: list[Query], clients: int, seconds: float, tmp: Path
) -> tuple[int, float, float, float, int]:
    """``work`` sent by ``wrk`` (one thread, ``clients`` connections) for ``seconds``, from the
    top again when it runs out (wrk stops on time only: its measured duration is the whole
    ``-d`` even when a script stops early): answers, elapsed s, p50 and p99 in ms, answers
    not 200."""
    paths = tmp / "lookups.txt"
    paths.write_text(
        "".join(f"/api/v1/lookup?code={c}&number={n}&check={k}\n" for c, n, k in work),
        encoding="ascii",
    )
    script = tmp / "lookups.lua"
    script.write_text(_WRK_SCRIPT, encoding="utf-8")

    def run(duration: float) -> list[str]:
        argv = ["wrk", "-t", "1", "-c", str(clients), "-d", f"{max(1, round(duration))}s"]
        argv += ["--timeout", "10s", "-s", str(script), base, "--", str(paths)]
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        return next(line for line in out.splitlines() if line.startswith("RESULT")).split()

    run(2)  # warm up
    _, requests, micros, p50, p99, bad = run(seconds)
    return int(requests), int(micros) / 1e6, int(p50) / 1000, int(p99) / 1000, int(bad)
