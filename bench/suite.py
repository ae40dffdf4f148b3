"""The whole benchmark suite: our own benchmarks and the side-by-side peer comparisons.

Usage (``make bench`` runs the first)::

    python bench/suite.py [--quick] [--parts P,P,...] [--out DIR] [--envs DIR]
                          [--keep-envs] [--repeat N]

Parts, in order (``--parts`` picks some; all by default):

- ``titan``, ``oracle``, ``sentinel``, ``e2e``: ``bench/<part>_bench.py --json``
  (``bench/e2e.py``) with its own defaults (``--quick``: small sizes), each JSON object
  saved as ``<out>/<part>.json``.
- ``match``: Titan against ``matching-engine`` 0.1.1, ``pyorderbook`` and
  ``lightmatchingengine`` on two flows -- the LOBSTER hour (AAPL 2012-06-21
  09:30-10:30) and the synthetic deep-book flow -- turned into one neutral stream each
  (``bench/peers/stream.py``: every engine gets the identical commands and must end in
  the identical full L2 book before its time counts). Each peer runs in its own
  throwaway virtual environment made with the interpreter it needs (3.12 for
  ``matching-engine``), Titan in the same process under the same interpreter, trials
  interleaved A B A B (``bench/peers/match_worker.py``).
- ``store``: Oracle against the ``eventsourcing`` package on SQLite and against raw
  rocksdict, durable append and replay (``bench/peers/store_worker.py``).
- ``recovery``: Oracle's snapshot + tail and full replay against ``matching-engine``'s
  own journal recovery on the same commands (``bench/peers/recovery_worker.py``).

Then ``<out>/summary.json`` (every comparison as a ratio: median and range of same-run,
interleaved trials, its target and whether it is met; the machine), built from every
part's results in ``<out>`` (a part not run this time contributes the results it left
there before), and ``<out>/comparison.png`` (``bench/peers/chart.py``). A part that
fails is reported by name and the suite exits 1 after running the others; figures of the
other parts are kept.
The environments live in a temporary folder removed at the end unless ``--envs`` names
one (reused while complete) or ``--keep-envs`` is given.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS = HERE / "peers"
OWN_PARTS = ("titan", "oracle", "sentinel", "e2e")
# each part's script (named so that none shadows a package of the project)
SCRIPTS = {
    "titan": "titan_bench.py",
    "oracle": "oracle_bench.py",
    "sentinel": "sentinel_bench.py",
    "e2e": "e2e.py",
}
PEER_PARTS = ("match", "store", "recovery")
PARTS = OWN_PARTS + PEER_PARTS
MATCH_PEERS = ("matching-engine", "pyorderbook", "lightmatchingengine")
FLOWS = ("lobster", "synthetic")
RESULT_FILES = (*OWN_PARTS, "peers-match", "peers-store", "peers-recovery")

# Small sizes for --quick (the suite's own test); the defaults are each script's own.
QUICK_ARGS: dict[str, list[str]] = {
    "titan": ["--repeat", "1", "--commands", "5000"],
    "oracle": ["--records", "5000", "--repeat", "1", "--batch", "256"],
    "sentinel": ["--sizes", "2000", "--ticks", "100", "--repeat", "1", "--ks", "1",
                 "--crossed-ticks", "2"],
    "e2e": ["--orders", "5000", "--repeat", "1", "--rate", "5000"],
}  # fmt: skip

sys.path.insert(0, str(PEERS))  # the peer helpers (envs, stream) are plain modules

from envs import ENVS, EnvError, make_env, worker_env  # noqa: E402
from measure import DATA_DIR, machine_info  # noqa: E402

LOBSTER = DATA_DIR / "lobster"
from stream import derive  # noqa: E402

from exchange.errors import UserError  # noqa: E402


def _log(msg: str) -> None:
    print(f"bench suite: {msg}", file=sys.stderr, flush=True)


class PartFailed(RuntimeError):
    """A benchmark part did not produce its figures; the message says why."""


def run_json(cmd: list[str], name: str) -> dict[str, Any]:
    """Run ``cmd`` (its stderr passes through), parse the one JSON object it prints."""
    _log(f"{name}: {' '.join(Path(c).name if c.endswith('.py') else c for c in cmd[1:])}")
    t0 = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.PIPE, env=worker_env(), check=False, text=True)
    if done.returncode != 0:
        raise PartFailed(f"{name} exited {done.returncode} (its message is above)")
    try:
        out = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise PartFailed(f"{name} printed no JSON object: {exc}") from None
    if not isinstance(out, dict):
        raise PartFailed(f"{name} printed JSON that is not an object")
    _log(f"{name}: done in {time.perf_counter() - t0:.0f} s")
    return out


def build_streams(quick: bool, scratch: Path) -> tuple[dict[str, Path], dict[str, Any]]:
    """Derive and save the neutral stream of each flow; their paths, and what each holds
    and dropped."""
    from exchange.config.symbols import default_specs
    from exchange.flow.synthetic import OrderFlow
    from exchange.lobster.replay import build_commands

    paths: dict[str, Path] = {}
    info: dict[str, Any] = {}
    flow = build_commands(
        LOBSTER / "AAPL_2012-06-21_0930-1030_message.csv",
        LOBSTER / "AAPL_2012-06-21_0930-1030_orderbook_1.csv",
    )
    commands = flow.commands[:5000] if quick else flow.commands
    streams = [derive("lobster", [flow.spec], list(flow.seed), list(commands))]
    specs = default_specs()
    deep = 500 if quick else 10_000
    synth = OrderFlow(specs, seed=1, deep_levels=4, deep_orders=deep)
    opening = synth.opening()
    streams.append(derive("synthetic", specs, opening, synth.take(5000 if quick else 200_000)))
    for s in streams:
        paths[s.name] = scratch / f"{s.name}.stream"
        s.save(paths[s.name])
        info[s.name] = {"seed": len(s.seed), "commands": len(s.commands), "source": s.source}
        _log(f"stream {s.name}: {len(s.seed):,} seed + {len(s.commands):,} timed commands")
    return paths, info


class Suite:
    """Runs the parts and keeps every result and failure."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out: Path = args.out
        self.results: dict[str, Any] = {}
        self.failures: dict[str, str] = {}
        self.scratch = Path(tempfile.mkdtemp(prefix="bench-suite-"))
        self.envs_dir = args.envs or self.scratch / "envs"
        self.pythons: dict[str, Path] = {}

    def python(self, env: str) -> str:
        if env not in self.pythons:
            _log(f"making the {env} environment")
            self.envs_dir.mkdir(parents=True, exist_ok=True)
            self.pythons[env] = make_env(ENVS[env], self.envs_dir, self.out / "envs.log")
        return str(self.pythons[env])

    def attempt(self, name: str, fn: Any, *a: Any) -> Any:
        try:
            return fn(*a)
        except (PartFailed, EnvError, AssertionError, OSError, UserError) as exc:
            self.failures[name] = str(exc)
            _log(f"{name} FAILED: {exc}")
            return None

    def save(self, name: str, result: Any) -> None:
        self.results[name] = result
        (self.out / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")

    def own(self, part: str) -> None:
        cmd = [sys.executable, str(HERE / SCRIPTS[part]), "--json"]
        if self.args.quick:
            cmd += QUICK_ARGS[part]
        self.save(part, run_json(cmd, part))

    def repeat(self, default: int) -> list[str]:
        n = 1 if self.args.quick else (self.args.repeat or default)
        return ["--repeat", str(n)]

    def match(self, streams: dict[str, Path]) -> None:
        rows = []
        for peer in MATCH_PEERS:
            for flow in FLOWS:
                name = f"match {peer} {flow}"
                row = self.attempt(name, self.match_one, peer, streams[flow], name)
                if row is not None:
                    rows.append(row)
        self.save("peers-match", rows)

    def match_one(self, peer: str, stream: Path, name: str) -> dict[str, Any]:
        cmd = [self.python(peer), str(PEERS / "match_worker.py"), "--json",
               "--stream", str(stream), "--peer", peer, *self.repeat(3)]  # fmt: skip
        return run_json(cmd, name)

    def store(self) -> None:
        sizes = ["--records", "5000", "--batch", "256"] if self.args.quick else []
        cmd = [self.python("eventsourcing"), str(PEERS / "store_worker.py"), "--json",
               *sizes, *self.repeat(3)]  # fmt: skip
        self.save("peers-store", run_json(cmd, "store"))

    def recovery(self, streams: dict[str, Path]) -> None:
        every = ["--snapshot-every", "4000"] if self.args.quick else []
        cmd = [self.python("matching-engine"), str(PEERS / "recovery_worker.py"), "--json",
               "--stream", str(streams["synthetic"]), *every, *self.repeat(3)]  # fmt: skip
        self.save("peers-recovery", run_json(cmd, "recovery"))

    def run(self) -> int:
        parts = self.args.parts
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "envs.log").write_text("")
        machine = machine_info()
        try:
            for part in OWN_PARTS:
                if part in parts:
                    self.attempt(part, self.own, part)
            streams: dict[str, Path] | None = None
            if {"match", "recovery"} & set(parts):
                built = self.attempt("streams", build_streams, self.args.quick, self.scratch)
                if built is not None:
                    streams, info = built
                    self.save("streams", info)
            if "match" in parts and streams is not None:
                self.match(streams)
            if "store" in parts:
                self.attempt("store", self.store)
            if "recovery" in parts and streams is not None:
                self.attempt("recovery", self.recovery, streams)
        finally:
            if self.args.envs is None and not self.args.keep_envs:
                shutil.rmtree(self.scratch, ignore_errors=True)
            elif self.args.keep_envs:
                _log(f"environments kept in {self.envs_dir}")
        machine["loadavg_1m_end"] = machine_info().get("loadavg_1m")
        for name in RESULT_FILES:  # parts not run now keep their last results in --out
            earlier = self.out / f"{name}.json"
            if name not in self.results and name not in self.failures and earlier.exists():
                self.results[name] = json.loads(earlier.read_text())
                _log(f"{name}: not run now; summarising the results already in {earlier}")
        from summary import summarise

        summary = summarise(self.results, machine, quick=self.args.quick)
        summary["failures"] = self.failures
        self.save("summary", summary)
        from chart import render

        render(summary, self.out / "comparison.png")
        _log(f"results in {self.out}")
        for line in summary["table"]:
            print(line)
        if self.failures:
            for name, why in self.failures.items():
                print(f"FAILED {name}: {why}", file=sys.stderr)
            return 1
        return 0


def _parts(text: str) -> list[str]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise argparse.ArgumentTypeError(
            f"unknown part(s) {', '.join(unknown) or '(none given)'}; choose from "
            f"{', '.join(PARTS)}"
        )
    return parts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, one trial (a smoke run)")
    p.add_argument("--parts", type=_parts, default=list(PARTS), help="comma-separated parts")
    p.add_argument("--out", type=Path, default=HERE / "results", help="results folder")
    p.add_argument("--envs", type=Path, default=None, help="keep and reuse environments here")
    p.add_argument("--keep-envs", action="store_true", help="do not delete the environments")
    p.add_argument("--repeat", type=int, default=0, help="trials per peer comparison (3)")
    args = p.parse_args(argv)
    if args.repeat < 0:
        p.error("--repeat must be positive")
    return Suite(args).run()


if __name__ == "__main__":
    sys.exit(main())
