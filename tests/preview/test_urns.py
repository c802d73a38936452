"""The URNs of the committed stacks are identity: a move of code must not change one.

`tests/fixtures/urns/<stack>.txt` holds the sorted URNs of each stack's offline preview. A change
to them is a deliberate, reviewed one: a rename ships an `Alias` (and `hybrid-ml preview STACK
--diff OLD_PLAN` then shows it as unchanged), and the fixture is regenerated with
`hybrid-ml preview STACK` and the `urn` of each resource in build/STACK/plan.json, sorted.
"""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "urns"


def _expected(stack: str) -> list[str]:
    return (FIXTURES / f"{stack}.txt").read_text().splitlines()


def _diff(expected: list[str], actual: list[str]) -> str:
    gone = sorted(set(expected) - set(actual))
    new = sorted(set(actual) - set(expected))
    return "\n".join([f"- {u}" for u in gone[:20]] + [f"+ {u}" for u in new[:20]])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_urns_are_unchanged(stack, request):
    plan = request.getfixturevalue(f"{stack}_plan")
    actual = sorted(r["urn"] for r in plan["resources"])
    expected = _expected(stack)
    assert actual == expected, f"URNs of {stack} changed:\n{_diff(expected, actual)}"


def test_fixture_is_sorted_and_unique():
    for stack in ("dev", "prod"):
        urns = _expected(stack)
        assert urns == sorted(set(urns)) and len(urns) > 100
