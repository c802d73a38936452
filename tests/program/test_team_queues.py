"""The work queues as planned: Kueue, JobSet and KubeRay on every GPU cluster, flavors, a team's
queues on each of its clusters, and MultiKueue bursting that names only allowed workers."""

from __future__ import annotations

import json
from typing import Any

import yaml

from stacks.preview.manifests import kubernetes_objects
from tests.program.conftest import TEAM_FRAUD

ONPREM, AWS = "onprem-prod", "hml-prod-aws-eu-west-1"
CLOUD_WORKERS = {AWS: ("aws", "eu-west-1"), "hml-prod-gcp-europe-west4": ("gcp", "europe-west4"),
                 "hml-prod-azure-westeurope": ("azure", "westeurope")}


def _objects(plan: dict[str, Any], kind: str, cluster: str | None = None) -> list[Any]:
    return [o for o in kubernetes_objects(plan)
            if o.kind == kind and (cluster is None or o.cluster == cluster)]


def _one(plan: dict[str, Any], kind: str, cluster: str, name: str,
         namespace: str | None = None) -> dict[str, Any]:
    found = [o.body for o in _objects(plan, kind, cluster)
             if o.name == name and (namespace is None or o.namespace == namespace)]
    assert len(found) == 1, (kind, cluster, name)
    return found[0]


def _kueue_config(plan: dict[str, Any], cluster: str) -> dict[str, Any]:
    release = next(r for r in plan["helmReleases"]
                   if r["cluster"] == cluster and r["name"] == "kueue")
    return yaml.safe_load(release["values"]["managerConfig"]["controllerManagerConfigYaml"])


def test_every_gpu_cluster_runs_kueue_jobset_and_kuberay_at_the_pinned_versions(prod_plan,
                                                                                 dev_plan):
    for plan, clusters in ((prod_plan, {ONPREM, *CLOUD_WORKERS}),
                           (dev_plan, {"onprem-dev", "hml-dev-aws-eu-west-1"})):
        for chart, version in (("kueue", "0.20.7"), ("jobset", "0.12.0"),
                               ("kuberay-operator", "1.7.0")):
            placed = {r["cluster"]: r["version"] for r in plan["helmReleases"]
                      if r["name"] == chart}
            assert placed == dict.fromkeys(clusters, version), chart


def test_kueue_holds_every_job_of_team_namespaces_and_only_the_manager_dispatches(prod_plan,
                                                                                  dev_plan):
    for plan, cluster in ((prod_plan, ONPREM), (prod_plan, AWS), (dev_plan, "onprem-dev")):
        config = _kueue_config(plan, cluster)
        assert config["manageJobsWithoutQueueName"] is True
        assert config["managedJobsNamespaceSelector"] == {"matchExpressions": [
            {"key": "hybridml.io/team", "operator": "Exists"}]}
        assert set(config["integrations"]["frameworks"]) == {
            "batch/job", "jobset.x-k8s.io/jobset", "ray.io/rayjob", "ray.io/raycluster", "pod"}
    assert _kueue_config(prod_plan, ONPREM)["multiKueue"]["origin"] == ONPREM
    assert "multiKueue" not in _kueue_config(prod_plan, AWS)
    assert "multiKueue" not in _kueue_config(dev_plan, "onprem-dev")


def test_flavors_steer_admitted_pods_to_their_pools(prod_plan):
    flavor = _one(prod_plan, "ResourceFlavor", AWS, "nvidia-a10g-spot")["spec"]
    assert flavor["nodeLabels"] == {"hybridml.io/gpu-type": "nvidia-a10g"}
    assert flavor["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists",
                                      "effect": "NoSchedule"}]
    azure = _one(prod_plan, "ResourceFlavor", "hml-prod-azure-westeurope",
                 "nvidia-a100-80gb")["spec"]
    assert azure["nodeLabels"] == {"hybridml.io/gpu-type": "nvidia-a100-80gb"}
    names = {o.name for o in _objects(prod_plan, "ResourceFlavor", ONPREM)}
    assert names == {"standard", "burst", "nvidia-a100-80gb-mig-3g-40gb", "nvidia-l40s"}
    assert {o.name for o in _objects(prod_plan, "WorkloadPriorityClass", ONPREM)} == {
        "production", "batch", "opportunistic"}
    assert _one(prod_plan, "WorkloadPriorityClass", ONPREM, "production")["value"] == 1000


def test_cloud_workers_are_known_to_the_manager_by_site_and_region_only(prod_plan):
    clusters = {o.name: o.body for o in _objects(prod_plan, "MultiKueueCluster", ONPREM)}
    assert set(clusters) == set(CLOUD_WORKERS)
    for name, (site, region) in CLOUD_WORKERS.items():
        labels = clusters[name]["metadata"]["labels"]
        assert (labels["hybridml.io/cluster-site"], labels["hybridml.io/cluster-region"]) == (
            site, region)
        assert clusters[name]["spec"] == {"clusterSource": {"kubeConfig": {
            "locationType": "Secret", "location": f"multikueue-{name}"}}}
        # The worker's token-bearing kubeconfig is a secret, written only on the manager.
        secret = _one(prod_plan, "Secret", ONPREM, f"multikueue-{name}")
        assert secret["stringData"] == "[secret]"
        assert not [o for o in _objects(prod_plan, "Secret") if o.name == f"multikueue-{name}"
                    and o.cluster != ONPREM]
        role = _one(prod_plan, "ClusterRole", name, "multikueue-manager")
        granted = {r for rule in role["rules"] for r in rule["resources"]}
        assert "secrets" not in granted and "pods/exec" not in granted


# --- a team: prod with `fraud` (tests/program/conftest.py) -----------------------------------

def test_the_team_gets_a_cluster_queue_in_the_cohort_with_its_guarantees(prod_team):
    plan = prod_team.plan
    cq = _one(plan, "ClusterQueue", ONPREM, "team-fraud")["spec"]
    assert cq["cohortName"] == "teams"
    assert cq["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name":
                                                       "team-fraud"}}
    gpus = {f["name"]: (f["resources"][0]["nominalQuota"], f["resources"][0]["borrowingLimit"])
            for g in cq["resourceGroups"] if g["coveredResources"] == ["nvidia.com/gpu"]
            for f in g["flavors"]}
    # gpus: 2 for each type, but queue.gpus names one L40S; borrowing defaults to the guarantee.
    assert gpus == {"nvidia-a100-80gb-mig-3g-40gb": (2, 2), "nvidia-l40s": (1, 1)}
    assert cq["preemption"]["reclaimWithinCohort"] == "Any"
    quota = _one(plan, "ResourceQuota", ONPREM, "platform-quota", "team-fraud")
    assert quota["spec"]["hard"]["requests.nvidia.com/gpu"] == str(2 + 2 + 1 + 1)
    ns = _one(plan, "Namespace", ONPREM, "team-fraud")
    assert ns["metadata"]["labels"]["hybridml.io/team"] == "fraud"
    local = _one(plan, "LocalQueue", ONPREM, "default")
    assert local["metadata"]["namespace"] == "team-fraud"
    assert local["spec"] == {"clusterQueue": "team-fraud"}


def test_the_team_bursts_only_to_the_cluster_it_names(prod_team):
    plan = prod_team.plan
    assert TEAM_FRAUD["queue"]["burstTo"] == ["aws/eu-west-1"]
    config = _one(plan, "MultiKueueConfig", ONPREM, "team-fraud-burst")
    assert config["spec"] == {"clusters": [AWS]}
    assert config["metadata"]["labels"]["hybridml.io/data-classification"] == "confidential"
    check = _one(plan, "AdmissionCheck", ONPREM, "team-fraud-burst")["spec"]
    assert check == {"controllerName": "kueue.x-k8s.io/multikueue", "parameters": {
        "apiGroup": "kueue.x-k8s.io", "kind": "MultiKueueConfig", "name": "team-fraud-burst"}}
    burst = _one(plan, "ClusterQueue", ONPREM, "team-fraud-burst")["spec"]
    assert burst["admissionChecksStrategy"] == {"admissionChecks": [{"name": "team-fraud-burst"}]}
    assert "cohortName" not in burst
    # What may be out at once: the team's AWS guarantee and borrowing (L4 2+2, A10G spot 2+2).
    quotas = {r["name"]: r["nominalQuota"] for r in
              burst["resourceGroups"][0]["flavors"][0]["resources"]}
    assert quotas["nvidia.com/gpu"] == 8
    queues = {(o.cluster, o.name): o.body["spec"]["clusterQueue"]
              for o in _objects(plan, "LocalQueue") if "::team-fraud" in o.urn}
    assert queues == {(ONPREM, "default"): "team-fraud", (ONPREM, "burst"): "team-fraud-burst",
                      (AWS, "default"): "team-fraud", (AWS, "burst"): "team-fraud"}
    assert len(_objects(plan, "MultiKueueConfig")) == 1


def test_team_members_may_run_distributed_training_and_read_their_queue(prod_team):
    role = _one(prod_team.plan, "Role", AWS, "team-member")
    creates = {(g, r) for rule in role["rules"] if "create" in rule["verbs"]
               for g in rule["apiGroups"] for r in rule["resources"]}
    for kind in (("batch", "jobs"), ("jobset.x-k8s.io", "jobsets"), ("ray.io", "rayjobs"),
                 ("ray.io", "rayclusters")):
        assert kind in creates
    # The queue itself is the platform's: members read it, never change it.
    assert not {k for k in creates if k[0] == "kueue.x-k8s.io"}
    ingress = _one(prod_team.plan, "NetworkPolicy", AWS, "allow-ingress-ray-operator")["spec"]
    assert ingress["podSelector"] == {"matchLabels": {"ray.io/node-type": "head"}}
    assert ingress["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8265}]


def test_the_teams_dashboard_shows_its_queue(prod_team):
    cm = _one(prod_team.plan, "ConfigMap", ONPREM, "dashboard-team-fraud")
    doc = json.loads(cm["data"]["team-fraud.json"])
    titles = [p["title"] for p in doc["panels"]]
    assert "Queue: workloads pending" in titles and "Queue: GPU-hours (last 24 h)" in titles
    assert all('cluster_queue=~"team-fraud(-burst)?"' in p["targets"][0]["expr"]
               for p in doc["panels"] if p["title"].startswith("Queue:"))


def test_the_stall_alert_uses_the_configured_wait(prod_plan):
    rules = [r for o in _objects(prod_plan, "PrometheusRule")
             for g in o.body["spec"]["groups"] for r in g["rules"]
             if r.get("alert") == "TeamQueueStalled"]
    assert len(rules) == 1 and rules[0]["for"] == "60m"
    assert "[60m]" in rules[0]["expr"]
