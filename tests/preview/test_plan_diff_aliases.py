"""A deliberate rename ships an Alias, and the plan diff sees it the way the engine does: the
renamed resource (and every child under it) is the same resource, not a delete and an add."""

from __future__ import annotations

import pulumi
import pulumi_random as random

from stacks.preview.plan_diff import diff_lines, diff_plans
from tests.conftest import component_plan


class _Store(pulumi.ComponentResource):
    """A toy component holding one child, registered under a type token of our choosing."""

    def __init__(self, type_token: str, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__(type_token, name, None, opts)
        provider = random.Provider(f"{name}-random", opts=pulumi.ResourceOptions(parent=self))
        random.RandomPet(f"{name}-pet", length=2,
                         opts=pulumi.ResourceOptions(parent=self, provider=provider))
        self.register_outputs({})


def _plan(type_token: str, name: str, aliases: list | None = None) -> dict:
    def program() -> None:
        _Store(type_token, name, pulumi.ResourceOptions(aliases=aliases or []))

    return component_plan(program)


def test_a_renamed_component_without_alias_is_deleted_and_added():
    old = _plan("hybridml:toy:Store", "store")
    new = _plan("hybridml:storage:Store", "store")
    s = diff_plans(old, new).summary
    assert (s["add"], s["delete"]) == (3, 3)


def test_a_type_token_alias_keeps_the_component_and_its_children():
    old = _plan("hybridml:toy:Store", "store")
    new = _plan("hybridml:storage:Store", "store", [pulumi.Alias(type_="hybridml:toy:Store")])
    diff = diff_plans(old, new)
    assert diff.summary == {"add": 0, "change": 0, "delete": 0, "unchanged": 4}  # with the stack
    assert sorted(urn.split("::")[-1] for urn, _ in diff.renamed) == [
        "store", "store-pet", "store-random"]
    assert diff_lines(diff)[-1] == "0 to add, 0 to change, 0 to delete, 4 unchanged, 3 renamed through aliases"


def test_a_name_alias_keeps_the_resource_and_input_changes_still_show():
    old = _plan("hybridml:toy:Store", "old-store")
    new = _plan("hybridml:toy:Store", "store", [pulumi.Alias(name="old-store")])
    diff = diff_plans(old, new)
    # The component is the same one; its children kept their own names, so they are new.
    assert ("urn:pulumi:prod::hybrid-ml-platform::hybridml:toy:Store::old-store",
            "urn:pulumi:prod::hybrid-ml-platform::hybridml:toy:Store::store") in diff.renamed
    assert diff.summary["add"] == 2 and diff.summary["delete"] == 2
