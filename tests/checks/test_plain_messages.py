"""Structural errors in plain words: a close match for a typo, quotes for a number YAML read,
the network of an address with host bits, and the form a quantity takes — never a raw regex."""

from __future__ import annotations

import pytest

from stacks.checks.problems import ConfigError
from stacks.program.validate import parse_platform
from tests.conftest import stack_platform

ROOT = "hybrid-ml-platform:platform"


def _problems(platform: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_platform(platform)
    return {p.path: str(p) for p in info.value.problems}


def test_each_common_mistake_gets_its_fix_all_at_once():
    p = stack_platform("prod")
    p["sites"]["aws"]["regions"] = ["eu-west-l"]
    p["kubernetes"]["onprem"]["version"] = 1.33
    p["network"]["onprem"]["cidrs"][0] = "10.64.0.1/18"
    p["kubernetes"]["namespaces"][3]["quota"]["memory"] = "64GB"
    found = _problems(p)
    assert "did you mean 'eu-west-1'?" in found[f"{ROOT}.sites.aws.regions[0]"]
    assert 'write it in quotes, like "1.33"' in found[f"{ROOT}.kubernetes.onprem.version"]
    assert "write the network (10.64.0.0/18)" in found[f"{ROOT}.network.onprem.cidrs[0]"]
    assert "like 64Gi" in found[f"{ROOT}.kubernetes.namespaces[3].quota.memory"]
    assert not any("should match pattern" in text or "^" in text for text in found.values())


def test_a_choice_far_from_any_option_lists_what_is_allowed_without_a_guess():
    p = stack_platform("dev")
    p["sites"]["aws"]["regions"] = ["mars-north-9"]
    text = _problems(p)[f"{ROOT}.sites.aws.regions[0]"]
    assert "allowed: 'af-south-1'" in text and "did you mean" not in text
