"""The policy pack's per-stack config, derived from the stack's residency plan and tags.

`policies/config.<stack>.json` (what `pulumi preview --policy-pack-config` takes)
is generated from here, and a test checks the committed files still match, so
the stack config and the policies cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from components.tags import COST_CENTER_PATTERN, ENVIRONMENTS, REQUIRED_TAG_KEYS
from stacks.config.platform import PlatformConfig


def policy_config_for(cfg: PlatformConfig) -> dict[str, Any]:
    res = cfg.residency
    return {
        "data-residency": {
            "allowedRegions": list(res.allowed_regions),
            "classifications": {
                name: {
                    "allowedRegions": list(cls.allowed_regions),
                    "onPremRequired": cls.on_prem_required,
                }
                for name, cls in res.classifications.items()
            },
        },
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
