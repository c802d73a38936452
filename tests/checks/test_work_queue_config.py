"""Work-queue config: flavors from GPU pools, team shares, capacity and burst checks (pure)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stacks.checks.problems import ConfigError
from stacks.plan.work_queues import (
    ambiguous_flavors,
    cluster_flavors,
    flavors_on,
    namespace_gpus,
    nominal_gpus,
    queue_clusters,
)
from stacks.program.validate import parse_platform
from tests.conftest import stack_platform

T = "hybrid-ml-platform:platform.teams"
PROD_ROLE = "arn:aws:iam::444455556666:role/"


def _pool(name: str, gpu_type: str, **over: Any) -> SimpleNamespace:
    base = {"name": name, "gpu_type": gpu_type, "gpu_count": 1, "nodes": [], "max_size": 1,
            "spot": False, "mig_profile": None, "time_slicing_replicas": None}
    return SimpleNamespace(**{**base, **over})


def test_prod_clusters_get_one_flavor_per_gpu_type_sharing_and_capacity_kind():
    cfg = parse_platform(stack_platform("prod"))
    assert queue_clusters(cfg) == ["onprem", "aws/eu-west-1", "gcp/europe-west4",
                                   "azure/westeurope"]
    got = {ref: {f.name: (f.capacity, dict(f.node_labels)) for f in flavors_on(cfg, ref)}
           for ref in queue_clusters(cfg)}
    # 2 nodes x 8 A100s, each cut into 2 3g.40gb slices; 1 node x 4 L40S.
    assert got["onprem"] == {
        "nvidia-a100-80gb-mig-3g-40gb": (32, {"hybridml.io/gpu-type": "nvidia-a100-80gb"}),
        "nvidia-l40s": (4, {"hybridml.io/gpu-type": "nvidia-l40s"})}
    assert got["aws/eu-west-1"] == {
        "nvidia-l4": (8, {"hybridml.io/gpu-type": "nvidia-l4"}),
        "nvidia-a10g-spot": (8, {"hybridml.io/gpu-type": "nvidia-a10g"})}
    # GKE time-sharing: 6 nodes x 1 L4 x 4 clients.
    assert got["gcp/europe-west4"] == {
        "nvidia-l4-shared4": (24, {"hybridml.io/gpu-type": "nvidia-l4"})}


def test_pools_of_one_type_in_different_flavors_are_told_apart_by_pool():
    flavors = cluster_flavors([_pool("l4", "nvidia-l4", max_size=4),
                               _pool("l4spot", "nvidia-l4", spot=True, max_size=2)])
    assert [(f.name, dict(f.node_labels)) for f in flavors] == [
        ("nvidia-l4", {"hybridml.io/gpu-type": "nvidia-l4", "hybridml.io/gpu-pool": "l4"}),
        ("nvidia-l4-spot", {"hybridml.io/gpu-type": "nvidia-l4",
                            "hybridml.io/gpu-pool": "l4spot"})]
    assert ambiguous_flavors(flavors) == []
    # Two on-demand L4 pools beside a spot one: no label selects exactly the on-demand nodes.
    three = cluster_flavors([_pool("a", "nvidia-l4"), _pool("b", "nvidia-l4"),
                             _pool("c", "nvidia-l4", spot=True)])
    assert [f.name for f in ambiguous_flavors(three)] == ["nvidia-l4"]


def test_ambiguous_pools_are_refused_with_the_pools_key():
    p = stack_platform("prod")
    p["kubernetes"]["aws"]["eu-west-1"]["gpuPools"].append(
        {"name": "l4b", "gpuType": "nvidia-l4", "machineType": "g6.2xlarge", "maxSize": 2})
    p["kubernetes"]["aws"]["eu-west-1"]["gpuPools"].append(
        {"name": "l4spot", "gpuType": "nvidia-l4", "machineType": "g6.2xlarge", "maxSize": 2,
         "spot": True})
    with pytest.raises(ConfigError) as err:
        parse_platform(p)
    assert ("platform.kubernetes.aws.eu-west-1.gpuPools: bad value ['l4', 'l4b']; pools l4, "
            "l4b (nvidia-l4) share a work-queue flavor") in str(err.value)


def _team(name: str, **over: Any) -> dict[str, Any]:
    return {"name": name, "owner": f"{name}-team", "costCenter": "ML-4200", "sites": ["onprem"],
            "awsRoleArn": f"{PROD_ROLE}{name}", **over}


def _refusal(stack: str, *teams: dict[str, Any], **services: Any) -> str:
    p = stack_platform(stack)
    p["teams"] = list(teams)
    p["services"]["workQueues"] = {**p["services"]["workQueues"], **services}
    with pytest.raises(ConfigError) as err:
        parse_platform(p)
    return str(err.value)


def test_a_gpu_type_the_teams_sites_lack_is_refused_with_what_they_have():
    msg = _refusal("prod", _team("vision", queue={"gpus": {"nvidia-h100-80gb": 2}}))
    assert (f"{T}[0].queue.gpus.nvidia-h100-80gb: bad value 'nvidia-h100-80gb'; allowed: the "
            "GPU types of the team's sites (nvidia-a100-80gb, nvidia-l40s)") in msg


def test_guarantees_beyond_a_flavors_capacity_name_the_team_that_over_commits():
    msg = _refusal("prod", _team("vision", gpus=1, queue={"gpus": {"nvidia-l40s": 3}}),
                   _team("speech", gpus=2))
    assert (f"{T}[1].gpus: bad value 2; at most 1 GPU(s) of flavor nvidia-l40s on onprem: its "
            "pools (l40s) offer 4 (teams vision already hold 3)") in msg


def test_a_restricted_team_may_burst_nowhere():
    # dev: `restricted` data must stay on-prem.
    msg = _refusal("dev", _team("secure", dataClassification="restricted",
                               awsRoleArn="arn:aws:iam::111122223333:role/secure",
                               queue={"burstTo": ["aws/eu-west-1"]}), burst=True)
    assert (f"{T}[0].queue.burstTo[0]: bad value 'aws/eu-west-1'; 'restricted' data must stay "
            "on-prem; the team may burst nowhere") in msg


def test_burst_needs_the_cluster_among_the_sites_and_burst_switched_on():
    msg = _refusal("prod", _team("vision", queue={"burstTo": ["gcp/europe-west4"]}))
    assert (f"{T}[0].queue.burstTo[0]: bad value 'gcp/europe-west4'; allowed: the team's cloud "
            "sites with GPU pools (none); add the cluster to `sites` first") in msg
    msg = _refusal("prod", _team("vision", sites=["onprem", "aws/eu-west-1"],
                                 queue={"burstTo": ["aws/eu-west-1"]}), burst=False)
    assert "bursting needs services.workQueues.burst: true" in msg


def test_a_queue_without_work_queues_is_refused():
    p = stack_platform("prod")
    del p["services"]["workQueues"]
    p["teams"] = [_team("vision", queue={"gpus": {"nvidia-l40s": 1}})]
    with pytest.raises(ConfigError) as err:
        parse_platform(p)
    assert f"{T}[0].queue: bad value 'set'; needs services.workQueues" in str(err.value)


def test_negative_guarantees_are_refused():
    msg = _refusal("prod", _team("vision", queue={"gpus": {"nvidia-l40s": -1}}))
    assert f"{T}[0].queue.gpus.nvidia-l40s" in msg


def test_namespace_quota_is_every_flavors_guarantee_plus_borrowing():
    p = stack_platform("prod")
    p["teams"] = [_team("vision", gpus=2, queue={"gpus": {"nvidia-l40s": 1}, "borrowGpus": 3})]
    cfg = parse_platform(p)
    team = cfg.teams[0]
    flavors = flavors_on(cfg, "onprem")
    assert [nominal_gpus(team, f) for f in flavors] == [2, 1]
    assert namespace_gpus(team, flavors) == (2 + 3) + (1 + 3)


_PROD = stack_platform("prod")
_TYPES = ["nvidia-a100-80gb", "nvidia-l40s"]


@settings(max_examples=40)
@given(st.lists(st.tuples(st.integers(0, 12), st.dictionaries(
    st.sampled_from(_TYPES), st.integers(0, 40), max_size=2)), min_size=1, max_size=5))
def test_any_accepted_team_set_never_over_commits_a_flavor(shares):
    p = {**_PROD, "teams": [_team(f"team{i}", gpus=g, queue={"gpus": q})
                            for i, (g, q) in enumerate(shares)]}
    over = False
    for flavor in cluster_flavors(_onprem_pools()):
        total = sum(q.get(flavor.gpu_type, g) for g, q in shares)
        over = over or total > flavor.capacity
    try:
        cfg = parse_platform(p)
    except ConfigError as err:
        assert over, str(err)  # refused only for over-commitment
        assert "guarantees may not over-commit a flavor" in str(err)
        return
    assert not over
    for flavor in flavors_on(cfg, "onprem"):
        assert sum(nominal_gpus(t, flavor) for t in cfg.teams) <= flavor.capacity


def _onprem_pools() -> list[Any]:
    return parse_platform(_PROD).kubernetes.onprem.gpu_pools
