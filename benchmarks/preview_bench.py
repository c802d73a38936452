"""Benchmark of the offline preview: wall time and peak memory, with growth in N.

Each figure comes from a fresh Python process, so imports count as they do for
a user. Rows:
  preview dev / prod           the whole `hybrid-ml preview` path (validate, run, plan.json)
  preview prod +N stores       prod with N synthetic extra artifact stores (N = 10, 100)
  preview prod +N teams        prod with N team environments on onprem and aws/eu-west-1
                               (each: namespace, Role, policies, Kafka user and topic, a
                               store with its workload identity, a Grafana folder, its
                               work queues on both clusters)
  floor prod (+N)              import the SDK modules the plan uses and register the
                               same resources (same types, names, inputs) bare under
                               the same mock runtime: the cost no program can avoid
  policy pass prod             the real policy pack over the prod plan (Analyzer protocol)
  team add prod                `hybrid-ml team add` on a copy of the project: validate, preview
                               before and after, write the stack file, print the diff
Usage: .venv/bin/python benchmarks/preview_bench.py [--repeat R] [--sizes 10,100] [--teams 10,100]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _project_with_extra_stores(tmp: Path, n: int) -> Path:
    import yaml

    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    platform = doc["config"]["hybrid-ml-platform:platform"]
    platform["storage"]["stores"] += [
        {"name": f"team{i:03d}", "dataClassification": "internal"} for i in range(n)
    ]
    (tmp / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp / "Pulumi.prod.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return tmp


def _project_with_teams(tmp: Path, n: int) -> Path:
    import yaml

    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    platform = doc["config"]["hybrid-ml-platform:platform"]
    account = platform["sites"]["aws"]["accountId"]
    platform["teams"] = [{
        "name": f"bench{i:03d}", "owner": "bench-ml", "costCenter": "ML-4200",
        "sites": ["onprem", "aws/eu-west-1"], "dataClassification": "confidential",
        # Guarantees may not over-commit a GPU flavor (4 L40S on-prem), so each team borrows
        # only: the same queues and objects per team at any N.
        "gpus": 0, "queue": {"borrowGpus": 1},
        "awsRoleArn": f"arn:aws:iam::{account}:role/bench{i:03d}", "topics": [{"name": "events"}],
    } for i in range(n)]
    tmp.mkdir()
    (tmp / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp / "Pulumi.prod.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return tmp


def _child_preview(project_dir: Path, stack: str, out: Path) -> dict:
    start = time.perf_counter()
    from stacks.preview.plan_file import write_plan
    from stacks.preview.run import run_preview

    result = run_preview(project_dir, stack)
    write_plan(result.plan, out)
    return {"seconds": time.perf_counter() - start, "resources": len(result.plan["resources"])}


def _child_floor(plan_path: Path) -> dict:
    plan = json.loads(plan_path.read_text())
    start = time.perf_counter()
    import importlib

    import pulumi

    from stacks.preview.offline import run_program

    # SDK modules load lazily: touch each class the plan uses, as the program does.
    for token in sorted({r["type"] for r in plan["resources"]}):
        module = _sdk_module(token)
        if module is not None:
            name = token.split(":")[-1]
            getattr(importlib.import_module(module), "Provider" if token.startswith("pulumi:") else name)

    def program() -> None:
        providers: dict[str, pulumi.ProviderResource] = {}
        for r in plan["resources"]:
            if r["type"].startswith("pulumi:providers:"):
                pkg = r["type"].split(":")[2]
                providers[r["urn"]] = pulumi.ProviderResource(pkg, r["name"], r["inputs"])
        for r in plan["resources"]:
            if r["custom"] and not r["type"].startswith("pulumi:providers:"):
                opts = pulumi.ResourceOptions(provider=providers.get(r["provider"]))
                pulumi.CustomResource(r["type"], r["name"], dict(r["inputs"]), opts)

    capture = run_program(program, plan["project"], plan["stack"], {}, {})
    return {"seconds": time.perf_counter() - start, "resources": len(capture.resources)}


_PACKAGES = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "azure-native": "pulumi_azure_native",
             "kubernetes": "pulumi_kubernetes", "random": "pulumi_random"}


def _sdk_module(token: str) -> str | None:
    """The SDK module that defines a type token (`aws:s3/bucket:Bucket` -> `pulumi_aws.s3`)."""
    pkg, mod, _ = token.split(":")
    if pkg == "pulumi":
        return _PACKAGES.get(token.split(":")[2]) if mod == "providers" else None
    if pkg not in _PACKAGES:
        return None  # our own components: not part of the floor
    base = _PACKAGES[pkg]
    if pkg == "kubernetes":
        group, _, version = mod.rpartition("/")
        group = group.replace(".k8s.io", "").replace("helm.sh", "helm")
        if "." in group:
            return None  # a custom resource (cert-manager, Gateway API): no SDK class
        mod = f"{group or 'core'}.{version}"
    else:
        mod = mod.split("/")[0]
    return base if mod == "index" else f"{base}.{mod}"


def _child_policy(plan_path: Path) -> dict:
    from stacks.preview.analyzer_client import run_policy_pack

    plan = json.loads(plan_path.read_text())
    config = json.loads((ROOT / "policies" / "config.prod.json").read_text())
    start = time.perf_counter()
    run_policy_pack(ROOT / "policies", plan["resources"], config, analyze_all_resources=True)
    return {"seconds": time.perf_counter() - start, "resources": len(plan["resources"])}


def _team_add(tmp: Path) -> dict:
    """`hybrid-ml team add` as a user runs it, on a copy of the project (a process of its own)."""
    import shutil

    tmp.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml"):
        shutil.copy(ROOT / name, tmp / name)
    shutil.copytree(ROOT / "policies", tmp / "policies")
    account = json.loads(json.dumps(__import__("yaml").safe_load(
        (ROOT / "Pulumi.prod.yaml").read_text())))["config"]["hybrid-ml-platform:platform"][
            "sites"]["aws"]["accountId"]
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "stacks", "team", "add", "bench", "--stack", "prod",
                    "-C", str(tmp), "--owner", "bench-ml", "--cost-center", "ML-4200",
                    "--sites", "onprem,aws/eu-west-1", "--gpus", "1",
                    "--aws-role-arn", f"arn:aws:iam::{account}:role/bench"],
                   cwd=ROOT, check=True, capture_output=True, text=True)
    return {"seconds": time.perf_counter() - start}


def _run_child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", *args],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median(rows: list[dict]) -> dict:
    rows = sorted(rows, key=lambda r: r["seconds"])
    return rows[len(rows) // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="10,100")
    parser.add_argument("--teams", default="10,100", help="comma-separated team counts")
    args = parser.parse_args()

    if args.child:
        kind, *rest = args.child
        if kind == "preview":
            out = _child_preview(Path(rest[0]), rest[1], Path(rest[2]))
        elif kind == "policy":
            out = _child_policy(Path(rest[0]))
        else:
            out = _child_floor(Path(rest[0]))
        out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out))
        return

    sizes = [0] + [int(s) for s in args.sizes.split(",") if s]
    print(f"{'run':<28}{'resources':>10}{'wall s':>9}{'peak MiB':>10}{'vs floor':>10}"
          f"{'ms/res':>8}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        dev = _median([_run_child(["preview", str(ROOT), "dev", str(tmp / "dev")])
                       for _ in range(args.repeat)])
        print(f"{'preview dev':<28}{dev['resources']:>10}{dev['seconds']:>9.2f}{dev['peak_mib']:>10.0f}"
              f"{'':>10}{1000 * dev['seconds'] / dev['resources']:>8.1f}")
        per_resource = []
        for n in sizes:
            project = ROOT if n == 0 else _project_with_extra_stores(tmp / f"p{n}", n) if (
                (tmp / f"p{n}").mkdir() or True) else ROOT
            out = tmp / f"prod{n}"
            label = "prod" if n == 0 else f"prod +{n} stores"
            prev = _median([_run_child(["preview", str(project), "prod", str(out)])
                            for _ in range(args.repeat)])
            floor = _median([_run_child(["floor", str(out / "plan.json")])
                             for _ in range(args.repeat)])
            ratio = prev["seconds"] / floor["seconds"]
            print(f"{'preview ' + label:<28}{prev['resources']:>10}{prev['seconds']:>9.2f}"
                  f"{prev['peak_mib']:>10.0f}{ratio:>9.2f}x"
                  f"{1000 * prev['seconds'] / prev['resources']:>8.1f}")
            print(f"{'floor ' + label:<28}{floor['resources']:>10}{floor['seconds']:>9.2f}"
                  f"{floor['peak_mib']:>10.0f}")
            per_resource.append((n, prev["resources"], prev["seconds"]))
        base = per_resource[0]
        extra: dict[int, float] = {}
        for n in [int(t) for t in args.teams.split(",") if t]:
            project = _project_with_teams(tmp / f"t{n}", n)
            prev = _median([_run_child(["preview", str(project), "prod", str(tmp / f"teams{n}")])
                            for _ in range(args.repeat)])
            extra[n] = prev["seconds"] - base[2]
            print(f"{f'preview prod +{n} teams':<28}{prev['resources']:>10}{prev['seconds']:>9.2f}"
                  f"{prev['peak_mib']:>10.0f}   ({1000 * extra[n] / n:.0f} ms, "
                  f"{(prev['resources'] - base[1]) / n:.0f} resources per team)")
        policy = _median([_run_child(["policy", str(tmp / "prod0" / "plan.json")])
                          for _ in range(args.repeat)])
        print(f"{'policy pass prod':<28}{policy['resources']:>10}{policy['seconds']:>9.2f}"
              f"{policy['peak_mib']:>10.0f}")
        team = _median([_team_add(tmp / f"add{i}") for i in range(args.repeat)])
        print(f"{'team add prod (CLI)':<28}{'':>10}{team['seconds']:>9.2f}")
    if len(extra) > 1:
        small, large = min(extra), max(extra)
        print(f"\nteams: +{large} cost {extra[large] / extra[small]:.1f}x +{small} "
              f"({large / small:.0f}x the teams; linear is {large / small:.0f}x)")
    if len(per_resource) > 1:
        (_, r0, s0), (_, r1, s1) = per_resource[0], per_resource[-1]
        print(f"\nmarginal cost: {1000 * (s1 - s0) / (r1 - r0):.2f} ms per extra resource "
              f"({r1 - r0} extra resources)")
        for n, r, s in per_resource[1:]:
            print(f"  +{n:<4} stores: {1000 * (s - s0) / (r - r0):.2f} ms/resource")


if __name__ == "__main__":
    main()
