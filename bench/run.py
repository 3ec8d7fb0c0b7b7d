"""`make bench`: every benchmark in turn, then one table with ratios and targets side by
side, written to bench/results/summary.md (docs/performance.md quotes it).

    python -m bench.run            # full sizes: 200,000 users, 500,000 entitlements
    python -m bench.run --smoke    # tiny sizes: checks that every script runs
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench import harness

SCRIPTS = (
    "saml_signin",
    "routing",
    "token",
    "org_console",
    "entitlements_page",
    "salesforce_sync",
    "memory",
    "cold_start",
)


def main() -> None:
    forwarded = sys.argv[1:]
    smoke = "--smoke" in forwarded
    results = Path(os.environ.get("BENCH_RESULTS") or harness.RESULTS)
    for script in SCRIPTS:
        print(f"== bench.{script}", file=sys.stderr, flush=True)
        subprocess.run(  # noqa: S603 - our own scripts
            [sys.executable, "-m", f"bench.{script}", *forwarded],
            cwd=harness.ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    table = summary(results, "-smoke" if smoke else "")
    (results / f"summary{'-smoke' if smoke else ''}.md").write_text(table)
    print(table)


def summary(results: Path, suffix: str) -> str:
    """The table of every figure, and the machine and load it was measured on."""
    lines, machine = ["```", harness.HEADER], {}
    for script in SCRIPTS:
        document = json.loads((results / f"{script}{suffix}.json").read_text())
        machine = document["machine"]
        lines += [harness.row(harness.Figure(**figure)) for figure in document["figures"]]
    lines.append("```")
    lines.append(
        f"{machine['cpu']}, {machine['cores']} cores, Python {machine['python']}; gunicorn "
        f"{machine['gunicorn_workers']} worker x {machine['gunicorn_threads']} threads; "
        f"{machine['load_generator']}; load average at the end {machine['load_average']}; "
        f"{machine['at']}"
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
