"""Replay speed: contracttape vs vcrpy (as pytest-recording drives it) vs an in-memory floor.

Each system serves the same cassette of N chat-completion interactions to the real openai SDK
(httpx2 underneath), one distinct request per interaction:

  contracttape  TapeSession in replay mode, hashed lookup; "cold": the YAML is parsed (C
                loader) and the parse kept in the parsed-cassette store; "warm": the next run,
                served from the store (contracttape.parsed_store), as every replay after the first
  vcrpy         pytest-recording's own ``use_cassette`` (what it does for a ``@pytest.mark.vcr``
                test), record mode none, plus body matching, which a correct replay needs
  floor         httpx2.MockTransport answering from a dict of prepared response bytes

Times are per interaction and include loading the cassette and making the client. Every client
shares one TLS context, made once: the floor's MockTransport client never loads certificates,
so without it the others paid about 19 ms per run that the floor did not. The floor and the
warm replay are each the best of three runs, alternated. vcrpy's lookup is a linear scan
(quadratic per cassette), so for large cassettes it replays an evenly spaced sample of the
requests instead of all of them; every request is unique, so a sample costs what it would in a
full run. Ratios are computed from figures measured in this same run.

Peak memory: a fresh process loads and replays the largest cassette with each system (every
tenth request; vcrpy a sample), and reports the peak of what it allocated after its imports
(tracemalloc); contracttape from its store, warm, as replay runs after the first time.

    python tools/bench_replay.py [--sizes 100,1000,10000] [--vcr-sample 200]
"""

from __future__ import annotations

import argparse
import json
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace

import httpx2
import openai

from contracttape import RecordMode, TapeSession
from contracttape.bodies import pretty_json
from contracttape.cassettes import CassetteCache, dumps
from contracttape.model import Interaction, RecordedRequest, RecordedResponse
from contracttape.normalize import Normaliser
from contracttape.parsed_store import ParsedStore

BASE = "http://bench.test/v1"
MODEL = "gpt-4o-mini"


def prompt(i: int) -> str:
    return f"question number {i}: what is {i} squared?"


def request_body(i: int) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": prompt(i)}], "model": MODEL}


def response_body(i: int) -> dict[str, object]:
    return {
        "id": f"chatcmpl-{i:08d}",
        "object": "chat.completion",
        "created": 1767225600,
        "model": MODEL,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": f"{i * i}"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }


def build_cassette(path: Path, n: int) -> None:
    normaliser = Normaliser()
    interactions = []
    for i in range(n):
        req = RecordedRequest(
            "POST",
            f"{BASE}/chat/completions",
            (("content-type", "application/json"),),
            json.dumps(request_body(i)).encode(),
        )
        body = pretty_json(response_body(i))
        resp = RecordedResponse(
            200, "OK", (("content-type", "application/json"), ("content-length", str(len(body)))), body
        )
        interactions.append(normaliser.for_disk(Interaction(req, resp)))
    path.write_text(dumps(interactions, {"target": "bench"}), encoding="utf-8")


def call_all(client: openai.OpenAI, indices: Sequence[int]) -> None:
    for i in indices:
        reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": prompt(i)}])
        if reply.choices[0].message.content != f"{i * i}":
            raise AssertionError(f"wrong reply for request {i}")


# One TLS context for every client the bench makes: loading the system's certificates for a new
# one costs about 19 ms, which the floor (a MockTransport client) never paid, so that the ratios
# held a cost of the SDK's set-up, not of replay (at 100 interactions, 0.3 of the ratio).
_TLS = ssl.create_default_context()


def client(http_client: httpx2.Client | None = None) -> openai.OpenAI:
    """The openai client, with its default HTTP client (what vcrpy and contracttape patch) unless
    the floor hands it one; made the same way, and as cheaply, for every system."""
    if http_client is None:
        http_client = openai.DefaultHttpxClient(verify=_TLS)
    return openai.OpenAI(base_url=BASE, api_key="sk-bench", max_retries=0, http_client=http_client)


def run_contracttape(path: Path, indices: Sequence[int], store: Path | None = None) -> None:
    cache = CassetteCache(ParsedStore(store) if store is not None else None)
    tape = TapeSession(path, mode=RecordMode.NONE, cache=cache, allow_unused=True)
    with tape, client() as c:
        call_all(c, indices)
    tape.check()


def run_vcrpy(path: Path, indices: Sequence[int]) -> None:
    """What pytest-recording does for a ``@pytest.mark.vcr`` test, through its own function."""
    from pytest_recording._vcr import use_cassette  # the plugin's own cassette factory

    plugin_config = SimpleNamespace(hook=SimpleNamespace(pytest_recording_configure=lambda **_: None))
    context = use_cassette(
        default_cassette=path.name,
        vcr_cassette_dir=str(path.parent),
        record_mode="none",
        markers=[],
        config={"match_on": ("method", "scheme", "host", "port", "path", "query", "body")},
        pytestconfig=plugin_config,  # type: ignore[arg-type]
    )
    with context, client() as c:
        call_all(c, indices)


def run_floor(n: int, indices: Sequence[int]) -> None:
    answers = {json.dumps(request_body(i), sort_keys=True): pretty_json(response_body(i)) for i in range(n)}

    def handler(request: httpx2.Request) -> httpx2.Response:
        key = json.dumps(json.loads(request.content), sort_keys=True)
        return httpx2.Response(200, headers={"content-type": "application/json"}, content=answers[key])

    with client(httpx2.Client(transport=httpx2.MockTransport(handler))) as c:
        call_all(c, indices)


def per_interaction(run: Callable[[], None], count: int) -> float:
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) / count


def peak_memory(system: str, path: Path, n: int, store: Path) -> float:
    """MB at the peak of what a fresh process allocates (tracemalloc, after the imports) to
    replay ``path`` with ``system``."""
    code = f"""
import sys, tracemalloc
sys.path.insert(0, {str(Path(__file__).parent)!r})
import bench_replay as b
from pathlib import Path
tracemalloc.start()
n, path = {n}, Path({str(path)!r})
if {system!r} == "floor":
    b.run_floor(n, range(0, n, 10))
elif {system!r} == "vcrpy":
    b.run_vcrpy(path, range(0, n, n // 20))
else:
    b.run_contracttape(path, range(0, n, 10), Path({str(store)!r}))
print(tracemalloc.get_traced_memory()[1] / 2**20)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--vcr-sample", type=int, default=50, help="max requests replayed by vcrpy per size")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"bench_{n}.yaml"
            store = Path(tmp) / f"store_{n}"
            build_cassette(path, n)
            everything = range(n)
            step = max(1, n // args.vcr_sample)
            sample = range(step // 2, n, step)
            # best of three for the floor and the warm replay, alternated, so neither gets the
            # warmer machine; the cold replay happens once by definition (it fills the store)
            cold = per_interaction(lambda p=path, e=everything, s=store: run_contracttape(p, e, s), n)
            floors, warms = [], []
            for _ in range(3):
                floors.append(per_interaction(lambda n=n, e=everything: run_floor(n, e), n))
                warms.append(
                    per_interaction(lambda p=path, e=everything, s=store: run_contracttape(p, e, s), n)
                )
            floor, warm = min(floors), min(warms)
            theirs = per_interaction(lambda p=path, s=sample: run_vcrpy(p, s), len(sample))
            rows.append((n, warm, cold, theirs, floor, len(sample)))
        largest = Path(tmp) / f"bench_{sizes[-1]}.yaml"
        warm_store = Path(tmp) / f"store_{sizes[-1]}"
        memory = {
            s: peak_memory(s, largest, sizes[-1], warm_store) for s in ("floor", "contracttape", "vcrpy")
        }
    print("replay, per interaction (the real openai SDK over httpx2):")
    print(
        f"{'interactions':>12} {'floor':>9} {'ct warm':>9} {'ct cold':>9} {'vcrpy+p-r':>11} "
        f"{'warm/floor':>10} {'cold/floor':>10} {'vcrpy/warm':>10}  vcrpy requests timed"
    )
    for n, warm, cold, theirs, floor, sampled in rows:
        print(
            f"{n:>12} {floor * 1e6:>6.0f} us {warm * 1e6:>6.0f} us {cold * 1e6:>6.0f} us "
            f"{theirs * 1e6:>8.0f} us "
            f"{warm / floor:>9.2f}x {cold / floor:>9.2f}x {theirs / warm:>9.1f}x  "
            f"{sampled}{'' if sampled == n else ' (sample)'}"
        )
    print(
        f"peak memory replaying {sizes[-1]:,} interactions (MB allocated, tracemalloc): "
        + ", ".join(f"{k} {v:.1f}" for k, v in memory.items())
    )


if __name__ == "__main__":
    main()
