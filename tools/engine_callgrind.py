"""Count the engine's instructions per command on the standard mix with callgrind.

Wall-clock figures on a shared machine move with its load; instruction counts
do not. This tool runs ``exchange.bench.engine.generate(N)`` and applies the
stream to a fresh engine, under ``valgrind --tool=callgrind``, twice with the
same ``PYTHONHASHSEED=0``: once applying the stream and once not (the same
start-up, setup and generation, then stop). The difference of the two totals
divided by N is what ``Engine.apply`` costs a command, the loop around it
included (it runs in C: ``map`` drained by a zero-length ``deque``, as the
benchmark does). It prints one JSON object.

Usage (from any directory)::

    # an existing install (the interpreter of a venv with exch installed, not editable):
    python3 tools/engine_callgrind.py --python /tmp/vwt/bin/python
    # build a checkout into a scratch venv first (created, or reinstalled into):
    python3 tools/engine_callgrind.py --build /work/wt-engine --venv /tmp/vwt

Options: ``-n`` commands (default 200,000), ``--seed`` of the stream (1),
``--keep DIR`` keeps the callgrind files (``callgrind_annotate --inclusive=yes
DIR/apply.out`` shows where the instructions go), ``--pure`` measures the
pure-Python engine of the same install (``EXCH_PURE=1``). It refuses to
measure a build that is not compiled unless ``--pure`` asks for that.

Needs valgrind (``apt-get install -y valgrind``). One core, about 2-4 minutes
for the default N.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

MODES = ("base", "apply")
"""``base``: set up and generate only; ``apply``: the same, then apply the stream."""


def child(mode: str, n: int, seed: int) -> None:
    """What runs under callgrind: generate the stream, then apply it unless ``mode`` is ``base``."""
    import gc
    from collections import deque

    from exchange.bench.engine import _fresh, generate
    from exchange.engine import engine_build

    setup, stream = generate(n, seed=seed)
    engine = _fresh(setup)
    stamps = range(len(setup), len(setup) + len(stream))
    gc.collect()
    gc.disable()
    if mode == "apply":
        deque(map(engine.apply, stream, stamps), maxlen=0)
    gc.enable()
    print(json.dumps({"compiled": engine_build().compiled, "build": engine_build().description}))


def child_env(pure: bool) -> dict[str, str]:
    """The measured process's environment: fixed hash seed, nothing pointing at a checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EXCH_PURE", "PYTHONSAFEPATH")}
    env["PYTHONHASHSEED"] = "0"
    if pure:
        env["EXCH_PURE"] = "1"
    return env


def total_instructions(path: Path) -> int:
    """The ``summary:`` (or ``totals:``) instruction count of a callgrind output file."""
    text = path.read_text(errors="replace")
    found = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
    if found is None:
        raise SystemExit(f"no instruction total in {path}")
    return int(found[1])


def measure(python: str, mode: str, n: int, seed: int, pure: bool, out_dir: Path) -> tuple[int, dict[str, object]]:
    """Run one mode under callgrind: its instruction total and what the child printed."""
    out_file = out_dir / f"{mode}.out"
    cmd = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
        python, str(Path(__file__).resolve()), "--child", mode, "-n", str(n), "--seed", str(seed),
    ]
    done = subprocess.run(
        cmd, env=child_env(pure), cwd=tempfile.gettempdir(), capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"{mode} run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return total_instructions(out_file), json.loads(done.stdout.strip().splitlines()[-1])


def build(checkout: str, venv: str) -> str:
    """Install ``checkout`` (compiled) into the venv ``venv``, created if missing; its interpreter."""
    python = Path(venv) / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", checkout], check=True)
    else:
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", checkout], check=True
        )
    return str(python)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", help="interpreter of an environment with exch installed")
    parser.add_argument("--build", metavar="CHECKOUT", help="install this checkout into --venv first")
    parser.add_argument("--venv", default="/tmp/exch-callgrind-venv", help="scratch venv for --build")
    parser.add_argument("-n", type=int, default=200_000, help="commands in the stream")
    parser.add_argument("--seed", type=int, default=1, help="seed of the stream")
    parser.add_argument("--pure", action="store_true", help="measure the pure-Python engine (EXCH_PURE=1)")
    parser.add_argument("--keep", metavar="DIR", help="keep the callgrind files in DIR")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.n, args.seed)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind not found: apt-get install -y valgrind")
    python = build(args.build, args.venv) if args.build else (args.python or sys.executable)
    out_dir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="engine-callgrind-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    base, info = measure(python, "base", args.n, args.seed, args.pure, out_dir)
    if info["compiled"] == args.pure:
        raise SystemExit(f"the engine under {python} is {info['build']}; not what was asked for")
    applied, _ = measure(python, "apply", args.n, args.seed, args.pure, out_dir)
    if not args.keep:
        shutil.rmtree(out_dir)
    print(json.dumps({
        "tool": "engine_callgrind",
        "python": python,
        "build": info["build"],
        "commands": args.n,
        "seed": args.seed,
        "hash_seed": 0,
        "instructions_base": base,
        "instructions_with_apply": applied,
        "instructions_per_command": round((applied - base) / args.n, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
