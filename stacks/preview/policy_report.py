"""Policy results as people and tools read them: grouped text, policy-report.json, SARIF 2.1.0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stacks.preview.analyzer_client import PackResult

_SARIF_LEVEL = {"mandatory": "error", "remediate": "error", "advisory": "warning", "disabled": "none"}


def build_report(result: PackResult, stack: str) -> dict[str, Any]:
    """Every policy of the pack with its result: pass, fail, undecided or disabled."""
    policies = []
    for info in result.policies:
        violations = [
            {"urn": d.urn, "message": d.message, "enforcementLevel": d.enforcement_level}
            for d in result.diagnostics if d.policy_name == info.name
        ]
        undecided = [
            {"urn": u.urn, "reason": u.reason, "enforcementLevel": u.enforcement_level}
            for u in result.undecided if u.policy_name == info.name
        ]
        if info.enforcement_level == "disabled":
            outcome = "disabled"
        elif violations:
            outcome = "fail"
        elif undecided:
            outcome = "undecided"
        else:
            outcome = "pass"
        policies.append({
            "name": info.name,
            "description": info.description,
            "enforcementLevel": info.enforcement_level,
            "severity": info.severity,
            "remediation": info.remediation_steps,
            "result": outcome,
            "violations": violations,
            "undecided": undecided,
        })
    mandatory = sum(
        1 for d in result.diagnostics if d.enforcement_level in ("mandatory", "remediate")
    )
    return {
        "stack": stack,
        "pack": {"name": result.pack_name, "version": result.pack_version},
        "summary": {
            "policies": len(policies),
            "passed": sum(1 for p in policies if p["result"] == "pass"),
            "mandatoryViolations": mandatory,
            "advisoryViolations": len(result.diagnostics) - mandatory,
            "undecidedChecks": len(result.undecided),
            "undecidedMandatoryChecks": sum(
                1 for u in result.undecided if u.enforcement_level in ("mandatory", "remediate")
            ),
        },
        "policies": policies,
    }


def build_sarif(report: dict[str, Any], stack_file: str) -> dict[str, Any]:
    """SARIF 2.1.0 for code scanning: one rule per policy, one result per violation."""
    rules, results = [], []
    for index, p in enumerate(report["policies"]):
        rules.append({
            "id": p["name"],
            "name": p["name"],
            "shortDescription": {"text": p["description"]},
            "fullDescription": {"text": p["description"]},
            "help": {"text": p["remediation"] or p["description"]},
            "defaultConfiguration": {"level": _SARIF_LEVEL.get(p["enforcementLevel"], "warning")},
            "properties": {"severity": p["severity"], "enforcementLevel": p["enforcementLevel"]},
        })
        for v in p["violations"]:
            results.append({
                "ruleId": p["name"],
                "ruleIndex": index,
                "level": _SARIF_LEVEL.get(v["enforcementLevel"], "warning"),
                "message": {"text": v["message"] or p["description"]},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": stack_file}},
                    "logicalLocations": [{
                        "fullyQualifiedName": v["urn"] or f"stack:{report['stack']}",
                        "kind": "resource",
                    }],
                }],
            })
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": report["pack"]["name"],
                "version": report["pack"]["version"],
                "rules": rules,
            }},
            "results": results,
        }],
    }


def write_reports(report: dict[str, Any], out_dir: Path, stack_file: str) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "policy-report.json"
    sarif_path = out_dir / "policy-report.sarif"
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    sarif_path.write_text(json.dumps(build_sarif(report, stack_file), indent=2) + "\n",
                          encoding="utf-8")
    return json_path, sarif_path


def report_lines(report: dict[str, Any]) -> list[str]:
    """Violations grouped by policy, then the undecided checks, then a summary line."""
    lines: list[str] = []
    for p in report["policies"]:
        if p["violations"]:
            lines.append(f"{p['name']} [{p['enforcementLevel']}, {p['severity'] or 'n/a'}]: "
                         f"{len(p['violations'])} violation(s)")
            for v in p["violations"]:
                lines.append(f"    {v['urn'] or 'stack'}")
                lines.append(f"      {v['message']}")
            if p["remediation"]:
                lines.append(f"    remediation: {p['remediation']}")
    undecided = [(p, u) for p in report["policies"] for u in p["undecided"]]
    if undecided:
        lines.append("Checks that could not be decided at preview (values unknown until apply):")
        for p, u in undecided:
            lines.append(f"    {p['name']} [{u['enforcementLevel']}] {u['urn'] or 'stack'}: {u['reason']}")
    s = report["summary"]
    lines.append(
        f"Policies: {s['passed']} of {s['policies']} passed; {s['mandatoryViolations']} mandatory and "
        f"{s['advisoryViolations']} advisory violation(s); {s['undecidedChecks']} undecided check(s)"
        f" ({s['undecidedMandatoryChecks']} mandatory)"
    )
    return lines
