"""Team environments: config checks, what a team gets on each site, and `hybrid-ml team`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stacks.checks.problems import ConfigError
from stacks.preview.manifests import kubernetes_objects
from stacks.preview.team_file import TeamFile
from stacks.program.validate import parse_platform
from tests.conftest import ROOT, resources_of, stack_platform
from tests.program.conftest import TEAM_FRAUD, team_project

T = "hybrid-ml-platform:platform.teams"


DEV_ROLE = "arn:aws:iam::111122223333:role/fraud-ml"


def _team(**over: Any) -> dict[str, Any]:
    return {"name": "fraud", "owner": "fraud-ml", "costCenter": "ML-4200",
            "sites": ["onprem", "aws/eu-west-1"], "awsRoleArn": DEV_ROLE, **over}


def _refusal(stack: str, team: dict[str, Any]) -> str:
    p = stack_platform(stack)
    p["teams"] = [team]
    with pytest.raises(ConfigError) as err:
        parse_platform(p)
    return str(err.value)


# --- config -----------------------------------------------------------------------------------

@pytest.mark.parametrize("team,expected", [
    (_team(sites=["gcp/europe-west4"]),
     f"{T}[0].sites[0]: bad value 'gcp/europe-west4'; allowed: clusters of this stack "
     "(onprem, aws/eu-west-1)"),
    (_team(dataClassification="restricted"),
     f"{T}[0].sites[1]: bad value 'aws/eu-west-1'; 'restricted' data must stay on-prem"),
    (_team(dataClassification="secret"),
     f"{T}[0].dataClassification: bad value 'secret'; allowed: confidential, internal"),
    (_team(gpus=3, sites=["aws/eu-west-1"]),
     f"{T}[0].gpus: bad value 3; at most the 2 GPU(s) the pools of aws/eu-west-1 can offer"),
    (_team(sites=["aws/eu-west-1"], topics=[{"name": "events"}]),
     f"{T}[0].topics: bad value ['events']; none of the team's sites runs Kafka"),
    (_team(name="Fraud"), f"{T}[0].name: bad value 'Fraud'; 3-30 lowercase letters and digits"),
    (_team(costCenter="4200"), f"{T}[0].costCenter: bad value '4200'; like ML-4200: 2-6 capital "
     "letters, a dash, 3-6 digits"),
    # `a--b` and `a-b` would share every bucket, key alias and namespace-derived name.
    (_team(name="a--b"), f"{T}[0].name: bad value 'a--b'; 3-30 lowercase letters and digits, "
     "starting with a letter, in words joined by single dashes"),
    # Without the role nobody of the team gets into EKS (it authenticates by access entries).
    (_team(awsRoleArn=None), f"{T}[0].awsRoleArn: missing; required when the team runs on EKS"),
    (_team(awsRoleArn="arn:aws:iam::999999999999:role/x"),
     f"{T}[0].awsRoleArn: bad value 'arn:aws:iam::999999999999:role/x'; must be a role of the "
     "stack's account 111122223333"),
    (_team(topics=[{"name": "a..b"}]), f"{T}[0].topics[0].name: bad value 'a..b'"),
    # Its ACL prefix `training-` would reach the platform's own topics.
    (_team(name="training"),
     f"{T}[0].name: bad value 'training'; its Kafka prefix 'training-' overlaps topic "
     "training-events of services.kafka.topics"),
])
def test_bad_team_requests_name_the_key_and_what_is_allowed(team, expected):
    assert expected in _refusal("dev", team)


def test_a_team_prefix_inside_another_teams_is_refused():
    p = stack_platform("dev")
    p["teams"] = [_team(name="abc"), _team(name="abc-x")]
    with pytest.raises(ConfigError) as err:
        parse_platform(p)
    assert (f"{T}[1].name: bad value 'abc-x'; its Kafka prefix 'abc-x-' overlaps team abc's "
            "prefix abc-") in str(err.value)


def test_two_teams_cannot_share_an_eks_role():
    p = stack_platform("dev")
    p["teams"] = [_team(name="abc"), _team(name="xyz")]
    with pytest.raises(ConfigError) as err:
        parse_platform(p)
    assert (f"{T}[1].awsRoleArn: bad value '{DEV_ROLE}'; another team has this role") in str(err.value)


def test_a_team_on_a_stack_without_network_or_kafka_gets_its_environment(tmp_path):
    from stacks.preview.run import run_preview
    from tests.conftest import write_stack

    p = stack_platform("dev")
    for key in ("network",):
        del p[key]
    del p["sites"]["aws"]
    del p["kubernetes"]["aws"]
    p["residency"]["classifications"]["internal"] = {"onPremRequired": True}
    p["storage"]["stores"] = []
    p["services"] = {"monitoring": p["services"]["monitoring"]}
    p["teams"] = [_team(sites=["onprem"], gpus=1)]
    result = run_preview(write_stack(tmp_path, "dev", p), "dev")
    objs = [o for o in kubernetes_objects(result.plan) if "::team-fraud" in o.urn]
    assert {o.kind for o in objs} >= {"Namespace", "ResourceQuota", "RoleBinding", "ConfigMap"}
    env = _one(objs, "ConfigMap", "onprem-dev", "team-environment")
    assert env["data"] == {"TEAM": "fraud"}


def test_two_teams_of_one_name_and_a_topic_clash_are_refused():
    p = stack_platform("dev")
    p["teams"] = [_team(), _team(owner="other")]
    p["services"]["kafka"]["topics"].append(
        {"name": "fraud-events", "clusters": ["onprem"], "partitions": 1})
    p["teams"][0]["topics"] = [{"name": "events"}]
    with pytest.raises(ConfigError) as err:
        parse_platform(p)
    assert f"{T}[1].name: bad value 'fraud'; team names must be unique" in str(err.value)
    assert (f"{T}[0].topics[0].name: bad value 'events'; fraud-events is already a topic of "
            "services.kafka.topics") in str(err.value)


def test_stack_files_survive_an_edit_round_trip_unchanged():
    for stack in ("dev", "prod"):
        path = ROOT / f"Pulumi.{stack}.yaml"
        assert TeamFile(path, "hybrid-ml-platform").text() == path.read_text()


# --- what the prod team gets ------------------------------------------------------------------

#: The team the prod tests look at, as `hybrid-ml team add` writes it.
FRAUD = TEAM_FRAUD


def _project(tmp: Path, with_team: bool = False) -> Path:
    return team_project(tmp, with_team)


@pytest.fixture(scope="module")
def prod_project(prod_team_project) -> Path:
    return prod_team_project


@pytest.fixture(scope="module")
def prod(prod_team) -> Any:
    return prod_team


def _team_objects(prod: Any) -> list[Any]:
    return [o for o in kubernetes_objects(prod.plan) if "::team-fraud" in o.urn]


def _one(objs: list[Any], kind: str, cluster: str, name: str | None = None) -> dict:
    found = [o for o in objs if o.kind == kind and o.cluster == cluster
             and (name is None or o.name == name)]
    assert len(found) == 1, (kind, cluster, name, [o.urn for o in found])
    return found[0].body


GPU_QUOTA = {"onprem-prod": "6", "hml-prod-aws-eu-west-1": "8"}


def test_each_site_gets_a_guarded_namespace_with_the_gpu_quota_and_group(prod):
    objs = _team_objects(prod)
    for cluster in ("onprem-prod", "hml-prod-aws-eu-west-1"):
        ns = _one(objs, "Namespace", cluster)
        assert ns["metadata"]["name"] == "team-fraud"
        assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        assert ns["metadata"]["labels"]["hybridml.io/owner"] == "fraud-ml"
        assert ns["metadata"]["labels"]["hybridml.io/cost-center"] == "ML-4200"
        quota = _one(objs, "ResourceQuota", cluster)
        # With work queues: every flavor's guarantee plus borrowing (tests/program/
        # test_team_queues.py has the arithmetic).
        assert quota["spec"]["hard"]["requests.nvidia.com/gpu"] == GPU_QUOTA[cluster]
        _one(objs, "LimitRange", cluster)
        binding = _one(objs, "RoleBinding", cluster)
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                      "name": "team-member"}
        assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                        "name": "team-fraud"}]
        # Members run workloads; they cannot take down the guard rails or grant access.
        # (The access entry maps the team's IAM role to this group on EKS.)
        rules = _one(objs, "Role", cluster)["rules"]
        writes = {(g, r) for rule in rules if "delete" in rule["verbs"]
                  for g in rule["apiGroups"] for r in rule["resources"]}
        assert ("apps", "deployments") in writes and ("", "secrets") in writes
        for guard in (("networking.k8s.io", "networkpolicies"), ("", "resourcequotas"),
                      ("", "limitranges"), ("rbac.authorization.k8s.io", "rolebindings")):
            assert guard not in writes
        deny = _one(objs, "NetworkPolicy", cluster, "default-deny")
        assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_gke_binds_the_teams_google_group_through_google_groups_for_rbac(tmp_path):
    from stacks.preview.run import run_preview

    project = _project(tmp_path)
    edit = TeamFile(project / "Pulumi.prod.yaml", "hybrid-ml-platform")
    edit.add(_team(name="geo", sites=["gcp/europe-west4"], awsRoleArn=None,
                   googleGroup="geo-ml@hml.example.com"))
    (project / "Pulumi.prod.yaml").write_text(edit.text())
    plan = run_preview(project, "prod").plan
    [cluster] = [r for r in resources_of(plan, "gcp:container/cluster:Cluster")]
    assert cluster["inputs"]["authenticatorGroupsConfig"] == {
        "securityGroup": "gke-security-groups@hml.example.com"}
    [binding] = [o.body for o in kubernetes_objects(plan)
                 if o.kind == "RoleBinding" and "::team-geo" in o.urn]
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                    "name": "geo-ml@hml.example.com"}]


def test_a_gke_team_needs_a_google_group_and_the_cluster_google_groups_for_rbac():
    gke = _team(sites=["gcp/europe-west4"], awsRoleArn=None)
    assert (f"{T}[0].googleGroup: missing; required when the team runs on GKE"
            in _refusal("prod", gke))
    p = stack_platform("prod")
    del p["kubernetes"]["gcp"]["europe-west4"]["securityGroup"]
    p["teams"] = [{**gke, "googleGroup": "fraud-ml@hml.example.com"}]
    with pytest.raises(ConfigError) as err:
        parse_platform(p)
    assert (f"{T}[0].sites[0]: bad value 'gcp/europe-west4'; kubernetes.gcp.europe-west4.securityGroup "
            "must be set first") in str(err.value)


def test_kafka_user_is_limited_to_the_team_prefix_with_a_program_signed_certificate(prod):
    objs = _team_objects(prod)
    for cluster, kafka in (("onprem-prod", "onprem"), ("hml-prod-aws-eu-west-1", "aws-eu-west-1")):
        user = _one(objs, "KafkaUser", cluster)
        assert user["metadata"]["name"] == "team-fraud"
        assert user["metadata"]["namespace"] == "kafka"
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == kafka
        assert user["spec"]["authentication"] == {"type": "tls-external"}
        named = [a["resource"] for a in user["spec"]["authorization"]["acls"]
                 if a["resource"]["type"] != "cluster"]
        assert named and all(r["name"] == "fraud-" and r["patternType"] == "prefix"
                             for r in named)
        topics = sorted(o.name for o in objs if o.kind == "KafkaTopic" and o.cluster == cluster)
        assert topics == ["fraud-events", "fraud-scores"]
        secret = _one(objs, "Secret", cluster, "kafka-client")
        assert secret["metadata"]["namespace"] == "team-fraud"
    requests = [r for r in resources_of(prod.plan, "tls:index/certRequest:CertRequest")
                if r["name"].startswith("team-fraud-")]
    assert {r["inputs"]["subject"]["commonName"] for r in requests} == {"team-fraud"}
    # Signed by the clients CA of the Kafka cluster on the same site.
    for cert in resources_of(prod.plan, "tls:index/locallySignedCert:LocallySignedCert"):
        if cert["name"].startswith("team-fraud-"):
            site = "onprem" if "onprem" in cert["name"] else "aws-eu-west-1"
            ca = cert["propertyDependencies"]["caCertPem"]
            assert len(ca) == 1 and ca[0].endswith(f"::kafka-{'onprem-prod' if site == 'onprem' else 'hml-prod-aws-eu-west-1'}-clients-ca-cert")


def test_eks_maps_the_team_role_to_its_group_and_nothing_more(prod):
    entries = [r for r in resources_of(prod.plan, "aws:eks/accessEntry:AccessEntry")
               if r["name"].startswith("team-fraud-")]
    assert len(entries) == 1
    inputs = entries[0]["inputs"]
    assert inputs["principalArn"] == "arn:aws:iam::444455556666:role/fraud-ml"
    assert inputs["kubernetesGroups"] == ["team-fraud"] and inputs["type"] == "STANDARD"
    assert not [r for r in resources_of(prod.plan, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
                if r["name"].startswith("team-fraud-")]


def test_kafka_topics_are_protected_in_prod(prod):
    topics = [r for r in resources_of(prod.plan, "kubernetes:kafka.strimzi.io/v1:KafkaTopic")
              if r["name"].startswith("team-fraud-")]
    assert len(topics) == 4 and all(r["protect"] for r in topics)


def test_cloud_site_gets_its_own_protected_tagged_store_reached_by_workload_identity(prod):
    buckets = [r for r in resources_of(prod.plan, "aws:s3/bucket:Bucket")
               if r["name"] == "t-fraud-aws-eu-west-1-bucket"]
    assert len(buckets) == 1
    bucket = buckets[0]
    assert bucket["protect"]
    assert bucket["inputs"]["tags"]["owner"] == "fraud-ml"
    assert bucket["inputs"]["tags"]["cost-center"] == "ML-4200"
    assert bucket["inputs"]["tags"]["data-classification"] == "confidential"
    assoc = [r for r in resources_of(prod.plan, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
             if r["name"].startswith("team-fraud-")]
    assert [(a["inputs"]["namespace"], a["inputs"]["serviceAccount"]) for a in assoc] == [
        ("team-fraud", "workload")]
    # No storage keys anywhere in what the team gets.
    assert not resources_of(prod.plan, "aws:iam/accessKey:AccessKey")
    objs = _team_objects(prod)
    env = _one(objs, "ConfigMap", "hml-prod-aws-eu-west-1", "team-environment")
    assert env["data"]["TEAM_STORE_URI"].startswith("s3://hml-prod-t-fraud-")
    assert env["data"]["MLFLOW_TRACKING_URI"].startswith("https://mlflow.hml-prod-aws-eu-west-1.")
    # The Pod Identity agent must be reachable, or the workload gets no credentials.
    identity = _one(objs, "NetworkPolicy", "hml-prod-aws-eu-west-1", "allow-egress-workload-identity")
    assert identity["spec"]["egress"] == [{"to": [{"ipBlock": {"cidr": "169.254.170.23/32"}}],
                                           "ports": [{"protocol": "TCP", "port": 80}]}]
    onprem = _one(objs, "ConfigMap", "onprem-prod", "team-environment")
    # On-prem (and for MLflow everywhere) the team works in its own MLflow workspace, whose
    # artifacts go through MLflow's proxy: it never holds keys of the site's store.
    assert onprem["data"]["MLFLOW_WORKSPACE"] == "team-fraud"
    assert "TEAM_STORE_URI" not in onprem["data"]
    assert not [o for o in objs if o.cluster == "onprem-prod"
                and o.name in ("allow-egress-object-store", "allow-egress-workload-identity")]


def test_mlflow_is_reached_only_through_the_gateway_proxies(prod):
    objs = _team_objects(prod)
    for cluster in ("onprem-prod", "hml-prod-aws-eu-west-1"):
        rules = _one(objs, "NetworkPolicy", cluster, "allow-egress-gateway")["spec"]["egress"]
        proxies = rules[0]
        assert proxies["to"][0]["namespaceSelector"] == {
            "matchLabels": {"kubernetes.io/metadata.name": "gateway"}}
        assert proxies["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "proxy"
        assert proxies["ports"] == [{"protocol": "TCP", "port": 10443}]
        # Never the MLflow Service directly (that would skip its sign-on).
        assert not [o for o in objs if o.cluster == cluster and o.kind == "NetworkPolicy"
                    and "mlflow" in str(o.body["spec"].get("egress"))]
    # EKS reaches its internal NLB by VPC address; elsewhere the cluster translates it.
    aws = _one(objs, "NetworkPolicy", "hml-prod-aws-eu-west-1", "allow-egress-gateway")
    assert aws["spec"]["egress"][1] == {"to": [{"ipBlock": {"cidr": "10.16.0.0/16"}}],
                                        "ports": [{"protocol": "TCP", "port": 443}]}
    onprem = _one(objs, "NetworkPolicy", "onprem-prod", "allow-egress-gateway")
    assert len(onprem["spec"]["egress"]) == 1


def test_the_team_gets_an_mlflow_workspace_on_its_sites_only(prod):
    mapping = {}
    for o in kubernetes_objects(prod.plan):
        if o.kind == "ConfigMap" and o.name == "mlflow-teams":
            mapping[o.cluster] = json.loads(o.body["data"]["teams.json"])
    assert set(mapping) == {"onprem-prod", "hml-prod-aws-eu-west-1", "hml-prod-gcp-europe-west4",
                            "hml-prod-azure-westeurope"}
    for cluster, doc in mapping.items():
        assert doc["adminGroups"] == ["3e9b2c71-4d5a-4f8e-9b1c-6a7d8e9f0a1b"]  # Pulumi.prod.yaml
        if cluster in ("onprem-prod", "hml-prod-aws-eu-west-1"):
            assert doc["workspaces"] == {"team-fraud": {
                "groups": ["team-fraud"], "permission": "EDIT",
                "description": "fraud: fraud-ml (ML-4200)"}}
        else:  # the team does not run there: no workspace, nobody of it gets in
            assert doc["workspaces"] == {}
    # Its workloads are pointed at the workspace wherever MLflow runs with them.
    env = _one(_team_objects(prod), "ConfigMap", "hml-prod-aws-eu-west-1", "team-environment")
    assert env["data"]["MLFLOW_WORKSPACE"] == "team-fraud"


def test_team_add_takes_the_mlflow_permission(tmp_path):
    project = _project(tmp_path)
    out = subprocess.run([sys.executable, "-m", "stacks.cli", "team", "add", "ops", "--stack", "dev",
                          "--owner", "ops-ml", "--cost-center", "ML-4100", "--sites", "onprem",
                          "--mlflow-permission", "MANAGE", "--no-preview", "-C", str(project)],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    import yaml
    doc = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())
    [team] = doc["config"]["hybrid-ml-platform:platform"]["teams"]
    assert team["mlflowPermission"] == "MANAGE"
    bad = subprocess.run([sys.executable, "-m", "stacks.cli", "team", "add", "ops2", "--stack", "dev",
                          "--owner", "ops-ml", "--cost-center", "ML-4100", "--sites", "onprem",
                          "--mlflow-permission", "ADMIN", "--no-preview", "-C", str(project)],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "--mlflow-permission" in bad.stderr and "Traceback" not in bad.stderr


def test_grafana_folder_holds_the_team_dashboard_on_the_central_cluster(prod):
    objs = [o for o in kubernetes_objects(prod.plan)
            if o.kind == "ConfigMap" and o.name == "dashboard-team-fraud"]
    assert [o.cluster for o in objs] == ["onprem-prod"]
    meta = objs[0].body["metadata"]
    assert meta["annotations"] == {"grafana_folder": "Team fraud"}
    assert meta["labels"]["grafana_dashboard"] == "1"
    doc = json.loads(objs[0].body["data"]["team-fraud.json"])
    assert all('namespace="team-fraud"' in p["targets"][0]["expr"] for p in doc["panels"]
               if not p["title"].startswith("Queue:"))
    # The sidecar must honour the folder annotation, or the folder never appears.
    release = next(r for r in prod.plan["helmReleases"]
                   if r["cluster"] == "onprem-prod" and r["name"] == "kube-prometheus-stack")
    dashboards = release["values"]["grafana"]["sidecar"]["dashboards"]
    assert dashboards["folderAnnotation"] == "grafana_folder"
    assert dashboards["provider"]["foldersFromFilesStructure"] is True


def test_team_resources_are_policy_clean(prod):
    from stacks.preview.analyzer_client import run_policy_pack

    config = json.loads((ROOT / "policies" / "config.prod.json").read_text())
    report = run_policy_pack(ROOT / "policies", prod.plan["resources"], config,
                             analyze_all_resources=True)
    mine = [d for d in report.diagnostics if d.urn and ("team-fraud" in d.urn or "t-fraud" in d.urn)]
    assert mine == [], [(d.policy_name, d.urn, d.message) for d in mine]
    assert len([r for r in prod.plan["resources"] if "hybridml:teams:Team" in r["urn"]]) > 50


# --- the CLI ----------------------------------------------------------------------------------

def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stacks", *args], capture_output=True,
                          text=True, cwd=ROOT, check=False)


def test_team_add_writes_the_team_keeping_comments_then_preview_shows_it_policy_clean(tmp_path):
    project = _project(tmp_path)
    before = (project / "Pulumi.dev.yaml").read_text()
    proc = _cli("team", "add", "vision", "--stack", "dev", "-C", str(project), "--owner",
                "vision-ml", "--cost-center", "ML-4300", "--gpus", "1", "--topics", "frames",
                "--aws-role-arn", "arn:aws:iam::111122223333:role/vision-ml")
    assert proc.returncode == 0, proc.stderr
    after = (project / "Pulumi.dev.yaml").read_text()
    assert after.startswith(before)  # every comment and key of the file, in order, untouched
    assert "      - name: vision\n        owner: vision-ml\n" in after
    assert "        sites: [onprem, aws/eu-west-1]\n" in after
    assert "+ kubernetes:core/v1:Namespace team-vision-onprem-dev-namespace-namespace" in proc.stdout
    assert "+ aws:s3/bucket:Bucket t-vision-aws-eu-west-1-bucket" in proc.stdout
    assert " to change, 0 to delete" in proc.stdout
    listed = _cli("team", "list", "--stack", "dev", "-C", str(project))
    assert listed.returncode == 0 and "vision  team-vision  vision-ml" in listed.stdout
    preview = _cli("preview", "dev", "-C", str(project), "--out", str(tmp_path / "out"))
    assert preview.returncode == 0, preview.stderr
    assert "team-vision-onprem-dev" in preview.stdout
    assert "0 mandatory and 0 advisory violation(s)" in preview.stdout


def test_team_add_refuses_bad_input_with_exit_2_and_writes_nothing(tmp_path):
    project = _project(tmp_path)
    before = (project / "Pulumi.dev.yaml").read_text()
    proc = _cli("team", "add", "vision", "--stack", "dev", "-C", str(project), "--owner",
                "vision-ml", "--cost-center", "ML-4300", "--sites", "onprem,azure/westeurope",
                "--no-preview")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert (f"{T}[0].sites[1] (--sites): bad value 'azure/westeurope'; allowed: clusters of "
            "this stack (onprem, aws/eu-west-1)") in proc.stderr
    assert (project / "Pulumi.dev.yaml").read_text() == before
    first = _cli("team", "add", "fraud", "--stack", "prod", "-C", str(project), "--owner", "x1",
                 "--cost-center", "ML-4300", "--sites", "onprem", "--no-preview")
    assert first.returncode == 0, first.stderr
    again = _cli("team", "add", "fraud", "--stack", "prod", "-C", str(project), "--owner", "x1",
                 "--cost-center", "ML-4300", "--sites", "onprem", "--no-preview")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_team_remove_refuses_while_protected_data_exists_unless_forced(tmp_path):
    project = _project(tmp_path, with_team=True)
    before = (project / "Pulumi.prod.yaml").read_text()
    proc = _cli("team", "remove", "fraud", "--stack", "prod", "-C", str(project))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "owns 7 protected stateful resource(s)" in proc.stderr
    assert "aws:s3/bucket:Bucket hml-prod-t-fraud-444455556666-eu-west-1" in proc.stderr
    assert "kubernetes:kafka.strimzi.io/v1:KafkaTopic kafka/fraud-events" in proc.stderr
    assert ("pulumi state unprotect --stack prod --yes 'urn:pulumi:prod::hybrid-ml-platform::"
            "hybridml:teams:Team$hybridml:aws:ArtifactStore$aws:s3/bucket:Bucket::"
            "t-fraud-aws-eu-west-1-bucket'") in proc.stderr
    assert (project / "Pulumi.prod.yaml").read_text() == before
    forced = _cli("team", "remove", "fraud", "--stack", "prod", "-C", str(project), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "WARNING: --force" in forced.stderr
    # The last team gone, the file is as it was before the team was added (no `teams: []`).
    assert (project / "Pulumi.prod.yaml").read_text() == (ROOT / "Pulumi.prod.yaml").read_text()
    missing = _cli("team", "remove", "fraud", "--stack", "prod", "-C", str(project))
    assert missing.returncode == 2 and "no team 'fraud'" in missing.stderr


def test_the_picture_shows_where_the_team_runs(prod_project):
    from stacks.preview.run import load_platform
    from stacks.preview.stack_file import read_stack
    from stacks.render.graph import build_graph
    from stacks.render.graph_mermaid import to_mermaid

    text = to_mermaid(build_graph(load_platform(read_stack(prod_project, "prod")), "prod"))
    assert 'team_fraud_onprem(["Team fraud"])' in text
    assert 'team_fraud_aws_eu_west_1(["Team fraud"])' in text


def test_config_reference_doc_is_the_generated_one():
    from stacks.render.config_reference import END, REFERENCE_DOC, START, config_reference

    text = (ROOT / REFERENCE_DOC).read_text()
    block = text.split(START + "\n", 1)[1].split(END, 1)[0]
    assert block == config_reference()
    assert "| `hybrid-ml-platform:platform.teams[].gpus` | integer | `0` |" in block
