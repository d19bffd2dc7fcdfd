"""Every benchmark, one after the other, each printing its figures beside its goals (`make bench`).

    .venv/bin/python bench/run_all.py            # the full figures (about 30-40 minutes on 2 cores)
    .venv/bin/python bench/run_all.py --quick    # a smoke run of each (a few minutes)

Each benchmark starts its own servers on free loopback ports and stops them; they run one at a time
so that they do not load the machine for each other. Exit code 1 when any of them fails or misses a
goal; the summary at the end says which. Output also in results/bench_all.txt.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

FULL = [
    ("billing_core", ["bench/bench_core.py"]),
    ("cost per turn vs conversation length", ["bench/bench_turns.py", "--stock"]),
    ("assistant vs stock rasa init", ["bench/bench_assistant.py"]),
    ("open-loop users", ["bench/bench_users.py"]),
    ("closed-loop load, 1 vs 2 servers", ["bench/bench_load.py", "--seconds", "60", "--rounds", "3"]),
]
QUICK = [
    ("billing_core", ["bench/bench_core.py", "--seconds", "1", "--checks", "200"]),
    ("cost per turn vs conversation length", ["bench/bench_turns.py", "--turns", "40", "--profiles", "embedded"]),
    (
        "assistant vs stock rasa init",
        ["bench/bench_assistant.py", "--messages", "30", "--concurrent", "4", "--per-conversation", "5"],
    ),
    ("open-loop users", ["bench/bench_users.py", "--quick"]),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="comma-separated words; run the benchmarks whose name has one")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.only:
        words = [w.strip() for w in args.only.split(",") if w.strip()]
        plan = [(name, argv) for name, argv in plan if any(w in name for w in words)]
    out = ROOT / "results" / "bench_all.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = []
    with out.open("w") as log:
        for name, argv in plan:
            banner = f"\n=== {name}: {' '.join(argv)}\n"
            print(banner, flush=True)
            log.write(banner)
            started = time.monotonic()
            process = subprocess.Popen(
                [PY, *argv], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            assert process.stdout is not None
            for line in process.stdout:
                if "Warning" in line or line.startswith("  ") and "warn" in line.lower():
                    continue  # library deprecation noise
                sys.stdout.write(line)
                log.write(line)
            code = process.wait()
            summary.append((name, code, time.monotonic() - started))
        lines = ["", "=== summary"] + [
            f"{'ok  ' if code == 0 else 'FAIL'} {name} ({seconds:.0f} s)" for name, code, seconds in summary
        ]
        print("\n".join(lines))
        log.write("\n".join(lines) + "\n")
    return 0 if all(code == 0 for _, code, _ in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
