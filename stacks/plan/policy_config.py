"""The policy pack's per-stack config, derived from the stack's residency plan and tags.

`policies/config.<stack>.json` (what `pulumi preview --policy-pack-config` takes)
is generated from here, and a test checks the committed files still match, so
the stack config and the policies cannot drift apart.
"""

from __future__ import annotations

import json
from typing import Any

from components.tags import COST_CENTER_PATTERN, ENVIRONMENTS, REQUIRED_TAG_KEYS
from stacks.config.platform import PlatformConfig


def policy_config_for(cfg: PlatformConfig) -> dict[str, Any]:
    res = cfg.residency
    return {
        "data-residency": _residency_plan(cfg),
        # MultiKueue bursts are judged by the same plan; a policy sees only its own config.
        "work-queue-residency": _residency_plan(cfg),
        "required-tags": {
            "requiredTags": list(REQUIRED_TAG_KEYS),
            "environments": list(ENVIRONMENTS),
            "classifications": list(res.classifications),
            "costCenterPattern": COST_CENTER_PATTERN,
        },
        "stateful-resources-protected": {
            "environment": "prod" if cfg.protect else cfg.environment,
        },
    }


def _residency_plan(cfg: PlatformConfig) -> dict[str, Any]:
    """The residency plan as the residency policies take it."""
    res = cfg.residency
    return {
        "allowedRegions": list(res.allowed_regions),
        "classifications": {
            name: {
                "allowedRegions": list(cls.allowed_regions),
                "onPremRequired": cls.on_prem_required,
            }
            for name, cls in res.classifications.items()
        },
    }


#: Objects nested deeper than this are written on one line, as lists always are:
#: one classification or tag list per line keeps the file short and its diffs readable.
_EXPANDED_DEPTH = 2


def policy_config_text(cfg: PlatformConfig) -> str:
    """`policies/config.<stack>.json` exactly as committed: `--write` on an unchanged stack is a no-op."""
    return _json(policy_config_for(cfg), 0) + "\n"


def _json(value: Any, depth: int) -> str:
    if isinstance(value, dict) and value and depth <= _EXPANDED_DEPTH:
        pad = "  " * (depth + 1)
        items = ",\n".join(f"{pad}{json.dumps(k)}: {_json(v, depth + 1)}" for k, v in value.items())
        return "{\n" + items + "\n" + "  " * depth + "}"
    return json.dumps(value, separators=(", ", ": "))


def stale_keys(committed: Any, expected: Any, path: str = "") -> list[str]:
    """Key paths (`data-residency.allowedRegions`) where a policy config file differs from the stack's."""
    if isinstance(committed, dict) and isinstance(expected, dict):
        return [
            found
            for key in sorted(set(committed) | set(expected))
            for found in stale_keys(committed.get(key), expected.get(key), f"{path}.{key}".lstrip("."))
        ]
    return [] if committed == expected else [path or "(whole file)"]


def drift_note(committed: Any, cfg: PlatformConfig, stack: str) -> str | None:
    """Why a policy run judged by old values, and the one command that fixes it; None if current."""
    keys = stale_keys(committed, policy_config_for(cfg))
    if not keys:
        return None
    named = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
    return (f"policies/config.{stack}.json is out of date with Pulumi.{stack}.yaml "
            f"({named} differ), so the policy pack judges by the old values; "
            f"fix: hybrid-ml policy-config {stack} --write")
