"""Pure helpers: tag forms per target and physical names."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components import naming
from components.regions import cloud_of
from components.tags import (
    REQUIRED_TAG_KEYS,
    StandardTags,
    aws_tags,
    azure_tags,
    gcp_labels,
    k8s_labels,
)

TAGS = StandardTags(owner="ML Platform Team", cost_center="ML-4100", environment="prod",
                    data_classification="restricted")


def test_aws_and_azure_tags_carry_every_required_key_verbatim():
    for tags in (aws_tags(TAGS), azure_tags(TAGS)):
        assert set(REQUIRED_TAG_KEYS) <= set(tags)
        assert tags["owner"] == "ML Platform Team"


def test_gcp_labels_follow_gcp_rules():
    labels = gcp_labels(TAGS, purpose="Access Logs")
    assert set(REQUIRED_TAG_KEYS) <= set(labels)
    assert labels["owner"] == "ml_platform_team"
    assert labels["cost-center"] == "ml-4100"
    for k, v in labels.items():
        assert re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", k)
        assert re.fullmatch(r"[a-z0-9_-]{0,63}", v)


def test_gcp_rejects_keys_gcp_would_refuse():
    with pytest.raises(ValueError, match="GCP's label rules"):
        gcp_labels(TAGS, **{"Team": "x"})


@given(st.text(min_size=1, max_size=200).filter(lambda s: any(c.isalnum() and c.isascii() for c in s)))
def test_k8s_label_values_are_always_valid(value):
    labels = k8s_labels(StandardTags(value, "ML-4100", "dev", "internal"))
    v = labels["hybridml.io/owner"]
    assert len(v) <= 63
    assert re.fullmatch(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?", v)


def test_bucket_names_are_dns_safe_and_bounded():
    name = naming.s3_bucket_name("hml-prod", "artifacts", "444455556666", "eu-central-1", "logs")
    assert name == "hml-prod-artifacts-logs-444455556666-eu-central-1"
    with pytest.raises(ValueError, match="longer than 63"):
        naming.gcs_bucket_name("p" * 30, "s" * 20, "europe-west4", "logs")


def test_region_lookup():
    assert cloud_of("eu-west-1") == "aws"
    assert cloud_of("europe-west4") == "gcp"
    assert cloud_of("westeurope") == "azure"
    assert cloud_of("onprem") == "onprem"
    assert cloud_of("mars-north-1") is None
