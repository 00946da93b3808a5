"""Load on ``equispec serve``: N concurrent fast predictions from a bounded client on loopback, while a probe
keeps loading the page, optionally with a physics job running. Prints p50/p95 latencies (docs/benchmark.md).

    python scripts/bench/serve_load.py [--requests 50] [--concurrency 50] [--physics-job]

The server is the real command (``python -m equispec serve --port 0``) in its own process, with a fresh
cache folder; one fast request first loads the model (the figures are after it, as a user sees them from
the second request on)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
CIF = ROOT / "data" / "examples" / "Si.cif"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def start_server(cache: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "EQUISPEC_CACHE_DIR": cache}
    server = subprocess.Popen([sys.executable, "-m", "equispec", "serve", "--port", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    line = server.stdout.readline()
    if "serving http" not in line:
        server.kill()
        raise SystemExit(f"the server did not start: {line}{server.stderr.read()[-2000:]}")
    return server, line.split("serving ")[1].split()[0].rstrip("/")


async def fast_request(client: httpx.AsyncClient, gate: asyncio.Semaphore, data: bytes) -> tuple[float, int]:
    async with gate:
        started = time.perf_counter()
        response = await client.post("/api/jobs", files={"structure": ("Si.cif", data, "chemical/x-cif")})
        return time.perf_counter() - started, response.status_code


async def probe(client: httpx.AsyncClient, stop: asyncio.Event, out: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        response = await client.get("/")
        response.raise_for_status()
        out.append(time.perf_counter() - started)
        await asyncio.sleep(0.1)


async def run(address: str, requests: int, concurrency: int, physics_job: bool) -> dict:
    data = CIF.read_bytes()
    limits = httpx.Limits(max_connections=concurrency + 2)
    async with httpx.AsyncClient(base_url=address, limits=limits, timeout=120) as client:
        warm = await client.post("/api/jobs", files={"structure": ("Si.cif", data, "chemical/x-cif")})
        warm.raise_for_status()
        job = None
        if physics_job:
            job = (await client.post("/api/jobs", files={"structure": ("Si.cif", data, "chemical/x-cif")},
                                     data={"mode": "physics"})).json()["id"]
            for _ in range(600):  # until the worker computes forces (it first imports torch and the potential)
                state = (await client.get(f"/api/jobs/{job}")).json()
                if state["status"] != "running" or "force constants" in state["stage"]:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(2.0)
        stop, page = asyncio.Event(), []
        prober = asyncio.create_task(probe(client, stop, page))
        gate = asyncio.Semaphore(concurrency)
        started = time.perf_counter()
        results = await asyncio.gather(*(fast_request(client, gate, data) for _ in range(requests)))
        wall = time.perf_counter() - started
        stop.set()
        await prober
        job_state = None if job is None else (await client.get(f"/api/jobs/{job}")).json()["status"]
    latencies = [seconds for seconds, _ in results]
    return {"requests": requests, "concurrency": concurrency, "ok": sum(code == 200 for _, code in results),
            "statuses": sorted({code for _, code in results}), "wall_s": round(wall, 3),
            "throughput_per_s": round(requests / wall, 2),
            "latency_p50_s": round(percentile(latencies, 50), 3), "latency_p95_s": round(percentile(latencies, 95), 3),
            "latency_max_s": round(max(latencies), 3), "page_loads": len(page),
            "page_p50_s": round(statistics.median(page), 4) if page else None,
            "page_p95_s": round(percentile(page, 95), 4) if page else None,
            "physics_job_during_load": job_state}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=50, help="requests in flight at once (the bound)")
    parser.add_argument("--physics-job", action="store_true", help="keep a physics job running during the load")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        server, address = start_server(cache)
        try:
            result = asyncio.run(run(address, args.requests, args.concurrency, args.physics_job))
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(30)
    result["machine"] = f"{os.cpu_count()} cores"
    print(json.dumps(result, indent=1))
    if result["ok"] != args.requests:
        raise SystemExit(f"{args.requests - result['ok']} requests failed")


if __name__ == "__main__":
    main()
