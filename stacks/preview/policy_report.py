"""Policy results as people and tools read them: grouped text, policy-report.json, SARIF 2.1.0."""

from __future__ import annotations

import hashlib
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stacks.preview.analyzer_client import PackResult
from stacks.preview.stack_locations import StackLocator

#: Resources named under one grouped violation in the text report; the JSON report has them all.
_NAMES_SHOWN = 12
_SARIF_LEVEL = {"mandatory": "error", "remediate": "error", "advisory": "warning", "disabled": "none"}


def build_report(result: PackResult, stack: str) -> dict[str, Any]:
    """Every policy of the pack with its result: pass, fail, undecided or disabled."""
    policies = []
    for info in result.policies:
        violations = [
            {"urn": d.urn, "message": _violation_text(d.message, info.description),
             "enforcementLevel": d.enforcement_level}
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
            "displayName": info.display_name,
            "description": info.description,
            "enforcementLevel": info.enforcement_level,
            "severity": info.severity,
            # a remediation may name the stack as <stack>: the report gives the command to run
            "remediation": info.remediation_steps.replace("<stack>", stack),
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


def _violation_text(message: str, description: str) -> str:
    """The violation itself: the policy SDK sends `description + "\\n" + message`."""
    if description and message.startswith(description):
        return message[len(description):].lstrip("\n") or description
    return message


def _fingerprint(policy: str, urn: str | None, message: str, occurrence: int) -> str:
    """Same violation, same value across runs: the policy and the resource, not the wording
    (a stack-wide violation, having no resource, is told apart by its message)."""
    subject = urn if urn else f"stack:{message}"
    return hashlib.sha256(f"{policy}\0{subject}\0{occurrence}".encode()).hexdigest()


def build_sarif(report: dict[str, Any], stack_file: str,
                line_of: Callable[[str | None], int] = lambda urn: 1) -> dict[str, Any]:
    """SARIF 2.1.0 for code scanning: one rule per policy, one result per violation, located at
    the stack-file line `line_of(urn)` and fingerprinted so an alert is tracked across runs."""
    rules, results = [], []
    for index, p in enumerate(report["policies"]):
        rules.append({
            "id": p["name"],
            "name": p["name"],
            "shortDescription": {"text": p.get("displayName") or p["name"]},
            "fullDescription": {"text": p["description"]},
            "help": {"text": p["remediation"] or p["description"]},
            "defaultConfiguration": {"level": _SARIF_LEVEL.get(p["enforcementLevel"], "warning")},
            "properties": {"severity": p["severity"], "enforcementLevel": p["enforcementLevel"]},
        })
        seen: dict[tuple[str | None, str], int] = {}
        for v in p["violations"]:
            subject = (v["urn"], "" if v["urn"] else v["message"])
            occurrence = seen[subject] = seen.get(subject, -1) + 1
            results.append({
                "ruleId": p["name"],
                "ruleIndex": index,
                "level": _SARIF_LEVEL.get(v["enforcementLevel"], "warning"),
                "message": {"text": v["message"] or p["description"]},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": stack_file, "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": line_of(v["urn"])},
                    },
                    "logicalLocations": [{
                        "fullyQualifiedName": v["urn"] or f"stack:{report['stack']}",
                        "kind": "resource",
                    }],
                }],
                "partialFingerprints": {
                    "hybridmlViolation/v1": _fingerprint(p["name"], v["urn"], v["message"], occurrence),
                },
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


def write_reports(report: dict[str, Any], out_dir: Path, stack_file: str,
                  project_dir: Path = Path(".")) -> tuple[Path, Path]:
    """policy-report.json and policy-report.sarif; `stack_file` is relative to `project_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "policy-report.json"
    sarif_path = out_dir / "policy-report.sarif"
    locator = StackLocator(project_dir / stack_file)
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    sarif_path.write_text(json.dumps(build_sarif(report, stack_file, locator.line_of), indent=2)
                          + "\n", encoding="utf-8")
    return json_path, sarif_path


def report_lines(report: dict[str, Any]) -> list[str]:
    """Violations grouped by policy, then the undecided checks, then a summary line."""
    lines: list[str] = []
    for p in report["policies"]:
        if p["violations"]:
            lines.append(f"{p['name']} [{p['enforcementLevel']}, {p['severity'] or 'n/a'}]: "
                         f"{len(p['violations'])} violation(s)")
            for text, names in _grouped(p["violations"]):
                if len(names) == 1:
                    lines.append(f"    {names[0]}")
                    lines.append(f"      {text}")
                    continue
                lines.append(f"    {len(names)} resources: {text}")
                shown = ", ".join(names[:_NAMES_SHOWN]) + (
                    f" and {len(names) - _NAMES_SHOWN} more (all in policy-report.json)"
                    if len(names) > _NAMES_SHOWN else "")
                lines.extend(textwrap.wrap(shown, 110, initial_indent=" " * 6,
                                           subsequent_indent=" " * 6, break_on_hyphens=False))
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


def _grouped(violations: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """Violations that say the same thing of different resources, once each with the resources:
    a stale policy config fails dozens of resources with one message."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for v in violations:
        name = v["urn"].rsplit("::", 1)[-1] if v["urn"] else None
        message = v["message"]
        if name and message.startswith(f"{name}: "):
            message = message[len(name) + 2:]
        elif name:
            message = message.replace(name, "<resource>")
        groups.setdefault(message, []).append(v)
    result = []
    for message, members in groups.items():
        if len(members) == 1:
            result.append((members[0]["message"], [members[0]["urn"] or "stack"]))
        else:
            result.append((message, [v["urn"].rsplit("::", 1)[-1] if v["urn"] else "stack"
                                     for v in members]))
    return result
