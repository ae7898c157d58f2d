"""Hostile requests to every command of a real server, over real HTTP, for longer than CI.

The fuzz test (``tests/api/test_fuzz.py``) runs in-process and bounded; this run starts
its own ``alto server --quickstart`` (SQLite in a temporary directory), reads
``listApis``, and sends ``--requests`` signed requests as the root admin, each a random
command with hostile values from the same pools (``tests/support/fuzz.py``), in JSON or
XML, by GET or POST. Every answer is judged as the test judges it (an allowed code, a
clean short ``X-Description``, a body of CloudStack's shape); a request that gets no
answer at all (the connection dropped) is counted apart. Meanwhile ``/health`` is
polled, and its slowest answer printed: a hostile request must not stall the server.

    uv run python bench/fuzz_bench.py [--requests N] [--concurrency N] [--seed N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from altostratus.security.signatures import sign

# LiveServer (tests/support) starts a server exactly as the client tests do.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.fuzz import ApiSpec, check_answer, parse_apis, random_request
from tests.support.server import LiveServer


class Tally:
    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.dropped = 0
        self.bad: list[str] = []
        self.health_worst = 0.0
        self.slowest: tuple[float, str] = (0.0, "")


async def _one(
    client: httpx.AsyncClient, server: LiveServer, spec: ApiSpec, rng: random.Random, tally: Tally
) -> None:
    admin = server.admin
    query = {**random_request(spec, rng), "command": spec.name, "apikey": admin["apikey"]}
    as_json = rng.random() < 0.5
    if as_json:
        query["response"] = "json"
    query["signature"] = sign(query, admin["secretkey"])
    started = time.perf_counter()
    try:
        if rng.random() < 0.5 and len(str(query)) < 6000:
            response = await client.get("/client/api", params=query)
        else:
            response = await client.post("/client/api", data=query)
    except httpx.HTTPError as error:
        tally.dropped += 1
        tally.bad.append(f"{spec.name}: no answer ({error!r})")
        return
    took = time.perf_counter() - started
    if took > tally.slowest[0]:
        tally.slowest = (took, f"{spec.name} ({response.status_code})")
    try:
        tally.statuses[check_answer(spec.name, response, as_json=as_json)] += 1
    except (AssertionError, ValueError) as error:  # ValueError: a body that does not parse
        tally.statuses[response.status_code] += 1
        tally.bad.append(f"{spec.name}: {str(error)[:300]}")


async def _poll_health(client: httpx.AsyncClient, tally: Tally, stop: asyncio.Event) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await client.get("/health")
        tally.health_worst = max(tally.health_worst, time.perf_counter() - started)
        await asyncio.sleep(0.1)


async def _run(server: LiveServer, requests: int, concurrency: int, seed: int) -> Tally:
    rng = random.Random(seed)
    tally = Tally()
    base = f"http://127.0.0.1:{server.port}"
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        admin = server.admin
        query = {"command": "listApis", "response": "json", "apikey": admin["apikey"]}
        query["signature"] = sign(query, admin["secretkey"])
        listing = (await client.get("/client/api", params=query)).json()
        specs = parse_apis(listing["listapisresponse"])
        plan = [rng.choice(specs) for _ in range(requests)]
        gate = asyncio.Semaphore(concurrency)

        async def guarded(spec: ApiSpec, seed: int) -> None:
            async with gate:
                await _one(client, server, spec, random.Random(seed), tally)

        stop = asyncio.Event()
        async with httpx.AsyncClient(base_url=base, timeout=60) as health:
            poller = asyncio.create_task(_poll_health(health, tally, stop))
            await asyncio.gather(*(guarded(spec, rng.getrandbits(32)) for spec in plan))
            stop.set()
            await poller
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        LiveServer(Path(tmp) / "data", args=("--quickstart",)) as server,
    ):
        started = time.perf_counter()
        tally = asyncio.run(_run(server, args.requests, args.concurrency, args.seed))
        elapsed = time.perf_counter() - started
    statuses = ", ".join(f"{code}: {count}" for code, count in sorted(tally.statuses.items()))
    print(f"requests      {args.requests} in {elapsed:.1f} s ({args.requests / elapsed:.0f}/s)")
    print(f"statuses      {statuses}")
    print(f"no answer     {tally.dropped}")
    print(f"bad answers   {len(tally.bad) - tally.dropped}")
    print(f"slowest       {tally.slowest[0] * 1000:.0f} ms, {tally.slowest[1]}")
    print(f"/health worst {tally.health_worst * 1000:.0f} ms")
    for line in tally.bad[:20]:
        print(f"  {line}")
    if tally.bad:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
