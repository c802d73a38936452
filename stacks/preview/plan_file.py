"""The plan: the captured resources as JSON, with secrets and unknowns made safe to share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stacks.preview.offline import RESOURCE_SIG, SECRET_SIG, SIG_KEY, UNKNOWN, Capture

SECRET_TEXT = "[secret]"
UNKNOWN_TEXT = "[unknown]"


def redact(value: Any) -> Any:
    """Wire value -> plan value: secrets become `[secret]`, unknowns `[unknown]`."""
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return SECRET_TEXT
        if sig == RESOURCE_SIG:
            return {"urn": value.get("urn")}
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if value == UNKNOWN:
        return UNKNOWN_TEXT
    return value


def build_plan(capture: Capture) -> dict[str, Any]:
    return {
        "project": capture.project,
        "stack": capture.stack,
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "provider": r.provider,
                "protect": r.protect,
                "custom": r.custom,
                "inputs": redact(r.inputs),
                # The engine hands these over in task-completion order, which varies from
                # run to run; sets in meaning, so sorted: the same config, the same bytes.
                "dependencies": sorted(r.dependencies),
                "propertyDependencies": {k: sorted(v) for k, v
                                         in sorted(r.property_dependencies.items())},
                "options": r.options,
            }
            # Stable order (registration order depends on task scheduling): stack first.
            for r in sorted(capture.resources, key=lambda r: (r.parent is not None, r.urn))
        ],
        # What `pulumi stack output --json` shows after an update; unknowns until then.
        "outputs": redact(capture.outputs),
    }


def write_plan(plan: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "plan.json"
    path.write_text(json.dumps(plan, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path
