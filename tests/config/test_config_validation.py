"""Config validation, without Pulumi: good stacks pass, bad input names key, value and what is allowed."""

from __future__ import annotations

import pytest

from stacks.program.validate import parse_platform
from tests.conftest import config_problems as problems_of
from tests.conftest import stack_platform


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_are_valid(stack):
    cfg = parse_platform(stack_platform(stack))
    assert cfg.environment == stack


def test_dev_is_small_eu_onprem_plus_aws():
    cfg = parse_platform(stack_platform("dev"))
    assert cfg.enabled_clouds() == ["aws"]
    assert cfg.sites.aws.regions == ["eu-west-1"]
    assert cfg.sites.onprem.enabled
    assert not cfg.protect


def test_prod_is_eu_resident_everywhere_and_protected():
    cfg = parse_platform(stack_platform("prod"))
    assert cfg.enabled_clouds() == ["aws", "gcp", "azure"]
    assert cfg.sites.aws.regions == ["eu-west-1", "eu-central-1"]
    assert cfg.sites.gcp.regions == ["europe-west4"]
    assert cfg.sites.azure.locations == ["westeurope"]
    restricted = cfg.residency.classifications["restricted"]
    assert set(restricted.allowed_regions) == {"eu-west-1", "eu-central-1", "europe-west4", "westeurope"}
    assert cfg.protect


def test_unknown_key_names_path_and_allowed_keys():
    p = stack_platform("dev")
    p["sites"]["aws"]["regoins"] = ["eu-west-1"]
    [line] = problems_of(p)
    assert line.startswith("hybrid-ml-platform:platform.sites.aws.regoins:")
    assert "allowed keys here: enabled, accountId, regions" in line


def test_wrong_type_names_path_value_and_expectation():
    p = stack_platform("dev")
    p["storage"]["defaults"]["noncurrentVersionDays"] = "ninety"
    [line] = problems_of(p)
    assert "platform.storage.defaults.noncurrentVersionDays: bad value 'ninety'" in line
    assert "valid integer" in line


def test_unknown_region_lists_the_allowed_ones():
    p = stack_platform("dev")
    p["sites"]["aws"]["regions"] = ["eu-west-9"]
    lines = problems_of(p)
    assert any(
        line.startswith("hybrid-ml-platform:platform.sites.aws.regions[0]: bad value 'eu-west-9'")
        and "'eu-west-1'" in line for line in lines
    )


def test_region_outside_residency_plan():
    p = stack_platform("prod")
    p["sites"]["aws"]["regions"].append("us-east-1")
    [line, missing_network] = problems_of(p)
    assert missing_network.startswith("hybrid-ml-platform:platform.network.aws.us-east-1: missing")
    assert line.startswith("hybrid-ml-platform:platform.sites.aws.regions[2]: bad value 'us-east-1'")
    assert "outside the residency plan" in line and "eu-central-1" in line


def test_restricted_data_outside_its_regions():
    p = stack_platform("prod")
    p["residency"]["classifications"]["restricted"]["allowedRegions"] = ["eu-central-1"]
    lines = problems_of(p)
    # the datasets store is restricted; each site's primary region is now outside
    assert [line.split(":")[1] for line in lines] == ["platform.storage.stores[1].sites"] * 3
    assert lines[0].startswith("hybrid-ml-platform:platform.storage.stores[1].sites: bad value 'aws'")
    assert "eu-west-1 is outside the allowed regions of 'restricted'" in lines[0]
    assert "europe-west4 is outside" in lines[1] and "westeurope is outside" in lines[2]


def test_on_prem_only_data_cannot_go_to_a_cloud():
    p = stack_platform("dev")
    p["storage"]["stores"][0]["dataClassification"] = "restricted"
    [line] = problems_of(p)
    assert "must stay on-prem" in line


def test_negative_size_is_rejected():
    p = stack_platform("prod")
    p["storage"]["defaults"]["azureKeySize"] = -3072
    [line] = problems_of(p)
    assert line.startswith("hybrid-ml-platform:platform.storage.defaults.azureKeySize: bad value -3072")
    assert "2048, 3072 or 4096" in line


def test_negative_retention_is_rejected():
    p = stack_platform("dev")
    p["storage"]["defaults"]["softDeleteDays"] = -1
    [line] = problems_of(p)
    assert "softDeleteDays: bad value -1; Input should be greater than or equal to 7" in line


def test_every_problem_gets_its_own_line():
    p = stack_platform("dev")
    p["environment"] = "qa"
    p["tags"]["costCenter"] = "finance"
    del p["tags"]["owner"]
    lines = problems_of(p)
    assert len(lines) == 3
    assert any(line.startswith("hybrid-ml-platform:platform.environment: bad value 'qa'") for line in lines)
    assert any(line.startswith("hybrid-ml-platform:platform.tags.costCenter: bad value 'finance'") for line in lines)
    assert "hybrid-ml-platform:platform.tags.owner: missing; this key is required" in lines


def test_unknown_classification_and_disabled_site():
    p = stack_platform("dev")
    p["storage"]["stores"].append({"name": "scratch", "dataClassification": "secret", "sites": ["gcp"]})
    [line] = problems_of(p)
    assert line.startswith("hybrid-ml-platform:platform.storage.stores[1].dataClassification: bad value 'secret'")
    assert "allowed: confidential, internal, public, restricted" in line


def test_unknown_key_value_is_not_echoed():
    p = stack_platform("dev")
    p["sites"]["onprem"]["kubeconfig"] = "apiVersion: v1\nusers: [{token: s3cr3t}]"
    [line] = problems_of(p)
    assert "s3cr3t" not in line
