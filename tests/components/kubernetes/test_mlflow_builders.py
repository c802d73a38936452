"""The MLflow package's pure builders, without Pulumi: what the server's pods, Jobs, network
rules and Gateway objects hold for given arguments."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest

from components.kubernetes import mlflow_auth
from components.kubernetes.mlflow import jobs, names, network, pods, routing
from components.kubernetes.mlflow.args import (
    ArtifactTarget,
    DatabaseConnection,
    OidcAuth,
    TrackingServerArgs,
)
from components.kubernetes.objects import object_labels
from components.tags import StandardTags

TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="confidential")
IMAGE = "ghcr.io/mlflow/mlflow:v3.1.0-full"
DB = DatabaseConnection(host="db.internal", database="mlflow", username="mlflow",
                        password="pw", sslmode="require", cidrs=("10.20.0.0/16",))
OIDC = OidcAuth(issuer_url="https://idp.example.com", client_id="mlflow", client_secret="s",
                jwks_uri="https://idp.example.com/jwks", audiences=("mlflow", "api"))
ONPREM_STORE = ArtifactTarget(
    kind="s3-compatible", bucket="bkt", region="us-east-1", endpoint_url="https://s3.lab:9000",
    endpoint_cidrs=("192.168.10.0/24",), access_key_id="AKIDONPREM",
    secret_access_key="SECRETONPREM", ca_certificate="-----BEGIN CERTIFICATE-----\n")


def _args(**over: Any) -> TrackingServerArgs:
    fields: dict[str, Any] = {
        "cluster_name": "c1", "base_domain": "ml.example.internal", "site": "aws", "image": IMAGE,
        "database": DB, "artifacts": ArtifactTarget(kind="s3", bucket="bkt", region="eu-west-1"),
        "oidc": OIDC, "pod_cidrs": ("10.64.0.0/18",), "tags": TAGS}
    return TrackingServerArgs(**{**fields, **over})


def _onprem(**over: Any) -> TrackingServerArgs:
    db = DatabaseConnection(host="pg-rw", database="mlflow", username="mlflow", password="pw",
                            sslmode="verify-full",
                            pod_labels={"cnpg.io/cluster": "mlflow-postgres"})
    return _args(site="onprem", database=db, artifacts=ONPREM_STORE, **over)


def _env(env: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by_name = {e["name"]: e for e in env}
    assert len(by_name) == len(env), "an environment variable repeats"
    return by_name


# --- pods ----------------------------------------------------------------------------------------

def test_allowed_hosts_name_the_gateway_the_service_and_private_ips_once():
    hosts = pods.allowed_hosts("mlflow.c1.ml.example.internal", "mlflow",
                               ["10.64.0.0/18", "10.0.0.0/8"])
    assert hosts[:6] == ["mlflow.c1.ml.example.internal", "mlflow.c1.ml.example.internal:443",
                         "mlflow.mlflow.svc", "mlflow.mlflow.svc:5000",
                         "mlflow.mlflow.svc.cluster.local", "mlflow.mlflow.svc.cluster.local:5000"]
    assert "10.64.*" in hosts
    # 10.0.0.0/8 gives `10.*`, which MLflow's own defaults name too: listed once.
    assert len(hosts) == len(set(hosts))
    assert set(pods.MLFLOW_PRIVATE_HOST_PATTERNS) <= set(hosts)
    assert any(fnmatch.fnmatch("172.20.3.4:5000", p) for p in hosts)
    assert not any(fnmatch.fnmatch("evil.example.com", p) for p in hosts)


def test_server_args_run_auth_workspaces_and_proxied_artifacts():
    args = _args(workers=6)
    argv = pods.server_args(args, "s3://bkt/mlflow")
    assert argv[:4] == ["server", *mlflow_auth.SERVER_FLAGS]

    def flag(name: str) -> Any:
        return argv[argv.index(name) + 1]

    assert flag("--artifacts-destination") == "s3://bkt/mlflow"
    assert "--serve-artifacts" in argv
    assert flag("--workers") == "6"
    assert flag("--port") == "5000"
    assert flag("--expose-prometheus") == pods.METRICS_DIR
    assert flag("--cors-allowed-origins") == "https://mlflow.c1.ml.example.internal"
    assert flag("--allowed-hosts").split(",") == pods.allowed_hosts(
        "mlflow.c1.ml.example.internal", "mlflow", ("10.64.0.0/18",))


def test_cloud_server_env_has_the_region_and_no_keys():
    env = _env(pods.server_env(_args().artifacts))
    assert env["AWS_DEFAULT_REGION"]["value"] == "eu-west-1"
    assert env[names.BACKEND_ENV]["valueFrom"]["secretKeyRef"] == {
        "name": names.BACKEND_SECRET, "key": names.BACKEND_ENV}
    assert env["MLFLOW_AUTH_CONFIG_PATH"]["value"] == "/etc/mlflow/auth/basic_auth.ini"
    assert env["PYTHONPATH"]["value"] == mlflow_auth.PLUGIN_DIR
    assert env["HYBRIDML_MLFLOW_TEAMS"]["value"] == "/etc/mlflow/teams/teams.json"
    admin = env["MLFLOW_AUTH_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert admin == {"name": names.AUTH_SECRET, "key": names.AUTH_ADMIN_PASSWORD_KEY}
    for absent in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_S3_ENDPOINT_URL",
                   "AWS_CA_BUNDLE"):
        assert absent not in env


def test_onprem_server_env_takes_the_key_pair_by_reference_only():
    args = _onprem()
    env = _env(pods.server_env(args.artifacts))
    assert env["MLFLOW_S3_ENDPOINT_URL"]["value"] == "https://s3.lab:9000"
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert env[key] == {"name": key, "valueFrom": {"secretKeyRef": {
            "name": names.ARTIFACT_CREDENTIALS_SECRET, "key": key}}}
    assert env["AWS_CA_BUNDLE"]["value"] == "/etc/mlflow/ca/ca.crt"
    literal = " ".join(str(e.get("value")) for e in env.values())
    assert "AKIDONPREM" not in literal and "SECRETONPREM" not in literal


@pytest.mark.parametrize(("make", "ca"), [(_args, False), (_onprem, True)])
def test_every_mount_has_a_volume_and_the_ca_only_where_there_is_one(make: Any, ca: bool):
    artifacts = make().artifacts
    volumes = {v["name"]: v for v in pods.server_volumes(artifacts)}
    mounts = {m["mountPath"]: m["name"] for m in pods.server_mounts(artifacts)}
    assert set(mounts.values()) == set(volumes)
    assert volumes["tmp"]["emptyDir"]["sizeLimit"] == pods.TMP_SIZE_LIMIT
    assert mounts["/tmp"] == "tmp" and mounts[pods.METRICS_DIR] == "metrics"
    assert mounts[mlflow_auth.PLUGIN_DIR] == "auth-plugin"
    assert volumes["auth-plugin"]["configMap"]["name"] == names.PLUGIN_CONFIGMAP
    assert volumes["auth-config"]["secret"]["defaultMode"] == 0o440
    assert ("object-store-ca" in volumes) is ca
    if ca:
        assert volumes["object-store-ca"]["configMap"]["name"] == names.CA_CONFIGMAP


def test_zone_spread_is_hard_only_when_required():
    for zone_spread, when in (("required", "DoNotSchedule"), ("preferred", "ScheduleAnyway")):
        zone, host = pods.topology_spread(zone_spread)
        assert zone["topologyKey"] == "topology.kubernetes.io/zone"
        assert zone["whenUnsatisfiable"] == when
        assert host["topologyKey"] == "kubernetes.io/hostname"
        assert host["whenUnsatisfiable"] == "DoNotSchedule"
        assert zone["labelSelector"]["matchLabels"] == names.SERVER_LABELS


def test_deployment_spec_rolls_safely_and_runs_restricted():
    args = _args(replicas=3, pod_labels={"azure.workload.identity/use": "true"})
    spec = pods.deployment_spec(args, "s3://bkt/mlflow")
    assert spec["replicas"] == 3
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    template = spec["template"]
    labels = template["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert labels["azure.workload.identity/use"] == "true"
    assert object_labels(TAGS).items() <= labels.items()
    assert template["metadata"]["annotations"] == {
        "hybridml.io/auth-plugin": mlflow_auth.plugin_checksum()}
    pod = template["spec"]
    assert pod["serviceAccountName"] == names.SERVICE_ACCOUNT
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    assert pod["terminationGracePeriodSeconds"] == 600
    assert pod["securityContext"]["runAsUser"] == pods.RUN_AS_USER
    [container] = pod["containers"]
    assert container["image"] == IMAGE
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["resources"]["limits"]["ephemeral-storage"] == "24Gi"
    assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": 15}}}
    assert container["startupProbe"]["httpGet"] == {"path": "/health", "port": "http"}


def test_disruption_budget_keeps_one_replica():
    assert pods.disruption_budget_spec() == {"minAvailable": 1,
                                             "selector": {"matchLabels": names.SERVER_LABELS}}


# --- jobs ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("image", "name"), [
    ("ghcr.io/mlflow/mlflow:v3.1.0-full", "mlflow-db-upgrade-v3-1-0-full"),
    ("registry:5000/mlflow:V3.1@sha256:abc", "mlflow-db-upgrade-v3-1"),
    # Digest only: the slug is the digest's first 40 hex digits.
    ("ghcr.io/mlflow/mlflow@sha256:" + "ab12" * 16, "mlflow-db-upgrade-" + "ab12" * 10),
    # A long tag is cut to 40 characters.
    ("ghcr.io/mlflow/mlflow:" + "1" * 30 + "." + "2" * 30,
     "mlflow-db-upgrade-" + "1" * 30 + "-" + "2" * 9),
])
def test_migration_job_name_follows_the_image_version(image: str, name: str):
    assert jobs.migration_job_name(image) == name
    assert len(name) <= 63 and not name.endswith("-")


def test_migration_job_runs_the_script_with_the_uri_in_env_only():
    labels = jobs.job_labels(TAGS, "db-upgrade")
    assert labels["app.kubernetes.io/component"] == "db-upgrade"
    assert names.APP_LABELS.items() <= labels.items()
    spec = jobs.migration_job_spec(IMAGE, labels)
    assert spec["backoffLimit"] == jobs.JOB_BACKOFF_LIMIT
    assert spec["activeDeadlineSeconds"] == jobs.JOB_DEADLINE_SECONDS
    pod = spec["template"]
    assert pod["metadata"]["labels"] == labels
    assert pod["spec"]["restartPolicy"] == "Never"
    [container] = pod["spec"]["containers"]
    assert container["command"] == ["python", "-c", jobs.DB_UPGRADE_SCRIPT]
    assert "MLFLOW_BACKEND_STORE_URI" in jobs.DB_UPGRADE_SCRIPT
    uri = _env(container["env"])[names.BACKEND_ENV]["valueFrom"]["secretKeyRef"]
    assert uri == {"name": names.BACKEND_SECRET, "key": names.BACKEND_ENV}
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["tmp"]


def test_job_metadata_lets_pulumi_wait_longer_than_the_deadline_and_replace_failures():
    meta = jobs.job_metadata("mlflow-db-upgrade-v3", "mlflow", {"a": "b"})
    assert meta["annotations"]["pulumi.com/replaceUnready"] == "true"
    assert int(meta["annotations"]["pulumi.com/timeoutSeconds"]) > jobs.JOB_DEADLINE_SECONDS
    assert meta["name"] == "mlflow-db-upgrade-v3"
    assert (meta["namespace"], meta["labels"]) == ("mlflow", {"a": "b"})


def test_workspaces_job_name_changes_with_the_mapping_only():
    first = jobs.workspaces_job_name('{"workspaces": {}}\n')
    assert first == jobs.workspaces_job_name('{"workspaces": {}}\n')
    assert first != jobs.workspaces_job_name('{"workspaces": {"team-a": {}}}\n')
    assert first.startswith("mlflow-workspaces-") and len(first) == len("mlflow-workspaces-") + 10


def test_workspaces_pod_mounts_the_plugin_and_mapping_and_reads_them_from_env():
    pod = jobs.workspaces_pod_template(IMAGE, jobs.job_labels(TAGS, "workspaces"))
    [container] = pod["spec"]["containers"]
    assert container["command"] == ["python", "-c", mlflow_auth.WORKSPACES_SCRIPT]
    env = _env(container["env"])
    assert env["PYTHONPATH"]["value"] == mlflow_auth.PLUGIN_DIR
    assert env["HYBRIDML_MLFLOW_TEAMS"]["value"] == pods.MAPPING_PATH
    assert env["MLFLOW_AUTH_CONFIG_PATH"]["value"] == pods.AUTH_CONFIG_PATH
    assert env["MLFLOW_ENABLE_WORKSPACES"]["value"] == "true"
    volumes = {v["name"] for v in pod["spec"]["volumes"]}
    assert {m["name"] for m in container["volumeMounts"]} == volumes == {
        "tmp", "auth-plugin", "teams", "auth-config"}


def test_reconcile_cronjob_reruns_the_same_pod_hourly_without_overlap():
    pod = jobs.workspaces_pod_template(IMAGE, {"x": "y"})
    cron = jobs.reconcile_cronjob_spec(pod)
    assert cron["schedule"] == "17 * * * *"
    assert cron["concurrencyPolicy"] == "Forbid"
    assert cron["jobTemplate"]["spec"]["template"] is pod
    assert jobs.workspaces_job_spec(pod)["template"] is pod


# --- network -------------------------------------------------------------------------------------

def test_database_egress_by_ranges_or_by_pods():
    assert network.database_egress(DB) == {"policyTypes": ["Egress"], "egress": [
        {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
         "ports": [{"protocol": "TCP", "port": 5432}]}]}
    [rule] = network.database_egress(_onprem().database)["egress"]
    assert rule["to"] == [{"podSelector": {"matchLabels": {"cnpg.io/cluster": "mlflow-postgres"}}}]


def test_object_store_egress_onprem_endpoint_port_and_cloud_public_https():
    [rule] = network.object_store_egress(ONPREM_STORE)["egress"]
    assert rule == {"to": [{"ipBlock": {"cidr": "192.168.10.0/24"}}],
                    "ports": [{"protocol": "TCP", "port": 9000}]}
    blob = ArtifactTarget(kind="azure-blob", bucket="c", account_name="acct",
                          private_endpoint_cidrs=("10.1.2.0/24",))
    [rule] = network.object_store_egress(blob)["egress"]
    assert rule["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(network.NON_PUBLIC)}},
                          {"ipBlock": {"cidr": "10.1.2.0/24"}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}]


def test_idp_egress_uses_the_jwks_port_and_private_idp_ranges():
    [rule] = network.idp_egress(OIDC)["egress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
    private = OIDC.model_copy(update={"jwks_uri": "https://kc.lab:8443/certs",
                                      "idp_cidrs": ("10.9.0.0/24",)})
    [rule] = network.idp_egress(private)["egress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8443}]
    assert rule["to"][-1] == {"ipBlock": {"cidr": "10.9.0.0/24"}}


def test_workload_identity_egress_per_site():
    gcp = network.workload_identity_egress("gcp")
    assert gcp is not None
    assert [(r["to"][0]["ipBlock"]["cidr"], r["ports"][0]["port"]) for r in gcp["egress"]] == [
        ("169.254.169.254/32", 80), ("169.254.169.252/32", 988)]
    aws = network.workload_identity_egress("aws")
    assert aws is not None
    assert aws["egress"][0]["to"] == [{"ipBlock": {"cidr": "169.254.170.23/32"}}]
    assert network.workload_identity_egress("azure") is None
    assert network.workload_identity_egress("onprem") is None


def test_client_ingress_only_for_named_namespaces():
    assert network.client_ingress(()) is None
    rule = network.client_ingress(("serving", "team-a"))
    assert rule is not None and rule["policyTypes"] == ["Ingress"]
    [ingress] = rule["ingress"]
    assert ingress["ports"] == [{"protocol": "TCP", "port": names.PORT}]
    assert [p["namespaceSelector"]["matchLabels"] for p in ingress["from"]] == [
        {"kubernetes.io/metadata.name": "serving"}, {"kubernetes.io/metadata.name": "team-a"}]


# --- routing -------------------------------------------------------------------------------------

def test_security_policy_signs_in_browsers_and_requires_a_jwt():
    spec = routing.security_policy_spec("mlflow.c1.example.com", OIDC)
    assert spec["targetRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "mlflow"}]
    assert spec["oidc"]["redirectURL"] == "https://mlflow.c1.example.com/oauth2/callback"
    assert spec["oidc"]["clientSecret"]["name"] == names.OIDC_SECRET
    assert spec["oidc"]["forwardAccessToken"] is True
    assert spec["jwt"]["optional"] is False
    [provider] = spec["jwt"]["providers"]
    assert provider["issuer"] == "https://idp.example.com"  # token_issuer defaults to the issuer
    assert provider["audiences"] == ["mlflow", "api"]
    other = OIDC.model_copy(update={"token_issuer": "https://sts.example.com"})
    assert routing.security_policy_spec("h", other)["jwt"]["providers"][0]["issuer"] == "https://sts.example.com"


def test_route_and_service_monitor_target_the_server():
    route = routing.http_route_spec("mlflow.c1.example.com")
    assert route["hostnames"] == ["mlflow.c1.example.com"]
    [rule] = route["rules"]
    assert rule["backendRefs"] == [{"group": "", "kind": "Service", "name": "mlflow", "port": 5000}]
    assert rule["timeouts"] == {"request": "3600s"}
    assert route["parentRefs"][0]["sectionName"] == "https"
    assert routing.service_spec()["selector"] == names.SERVER_LABELS
    monitor = routing.service_monitor_spec("mlflow")
    assert monitor["namespaceSelector"] == {"matchNames": ["mlflow"]}
    assert names.internal_url("ml") == "http://mlflow.ml.svc:5000"
