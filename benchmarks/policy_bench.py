"""Benchmark of offline policy evaluation: the real pack over 100, 1,000 and 5,000 resources.

Resources are copies of the prod plan's records (renamed, so URNs stay unique);
providers and the stack root are kept once. Also prints, for prod itself, the
policy pass against the whole preview.
Usage: .venv/bin/python benchmarks/policy_bench.py [--sizes 100,1000,5000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stacks.preview.analyzer_client import run_policy_pack
from stacks.preview.run import run_preview

PACK = ROOT / "policies"
CONFIG = json.loads((PACK / "config.prod.json").read_text())


def _scaled(plan: dict, n: int) -> list[dict]:
    fixed = [r for r in plan["resources"] if r["type"].startswith("pulumi:")]
    body = [r for r in plan["resources"] if not r["type"].startswith("pulumi:")]
    out = list(fixed)
    i = 0
    while len(out) < n:
        for r in body:
            if len(out) >= n:
                break
            text = json.dumps(r).replace(f"::{r['name']}", f"::{r['name']}-c{i}")
            out.append(json.loads(text))
        i += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,5000")
    args = parser.parse_args()

    start = time.perf_counter()
    plan = run_preview(ROOT, "prod").plan
    preview_s = time.perf_counter() - start
    start = time.perf_counter()
    result = run_policy_pack(PACK, plan["resources"], CONFIG, analyze_all_resources=True)
    policy_s = time.perf_counter() - start
    print(f"prod: preview {preview_s:.2f}s, policy pass {policy_s:.2f}s "
          f"({len(plan['resources'])} resources, {len(result.policies)} policies), "
          f"policy share of the whole {policy_s / (preview_s + policy_s):.0%}")

    print(f"\n{'resources':>10}{'seconds':>10}{'ms/resource':>13}")
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        resources = _scaled(plan, n)
        start = time.perf_counter()
        run_policy_pack(PACK, resources, CONFIG, analyze_all_resources=True)
        seconds = time.perf_counter() - start
        rows.append((n, seconds))
        print(f"{n:>10}{seconds:>10.2f}{1000 * seconds / n:>13.2f}")
    if len(rows) > 1:
        (n0, s0), (n1, s1) = rows[0], rows[-1]
        print(f"\nmarginal: {1000 * (s1 - s0) / (n1 - n0):.2f} ms per extra resource")


if __name__ == "__main__":
    main()
