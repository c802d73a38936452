"""MLflow end to end: the prod stack with `services.mlflow` on every site previews schema-valid and
policy-clean; every server has two spread replicas, a PDB, a route with OIDC + JWT at the
Gateway, its site's database and artifact store by workload identity (no static cloud keys);
generated passwords and the OIDC secret never appear in plain; bad config is refused with the
key path (exit 2 through the CLI)."""

from __future__ import annotations

import copy
import fnmatch
import json
import subprocess
import sys
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml
from pydantic import ValidationError

from components.kubernetes import mlflow as comp
from components.kubernetes import mlflow_auth
from components.kubernetes.charts import IMAGES
from components.kubernetes.objects import quantity
from components.tags import StandardTags
from stacks.checks.problems import ConfigError
from stacks.preview.manifests import kubernetes_objects
from stacks.preview.offline import PreviewMocks, run_program
from stacks.preview.run import PLACEHOLDER, run_preview
from stacks.program.validate import parse_platform
from tests.conftest import CANARY, ROOT, canary_mocks, component_plan, stack_platform, write_stack
from tests.conftest import config_problems as problems_of

# The snippets the lead pastes under `services:` (also in /tmp/spec/mlflow-stack.yaml).
SNIPPET = yaml.safe_load("""
prod:
  mlflow:
    clusters: [onprem, aws/eu-west-1, gcp/europe-west4, azure/westeurope]
    artifactStore: artifacts
    database:
      storageGb: 100
      backupRetentionDays: 14
    oidc:
      issuerUrl: https://login.microsoftonline.com/8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d/v2.0
      clientId: 5d3c1b2a-9e8f-4a7b-8c6d-2e1f0a9b8c7d
      clientSecretKey: mlflowOidcClientSecret
      jwksUri: https://login.microsoftonline.com/8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d/discovery/v2.0/keys
      audiences: [5d3c1b2a-9e8f-4a7b-8c6d-2e1f0a9b8c7d]
    onprem:
      artifacts:
        endpointUrl: https://s3.ams-dc1.hml.internal
        endpointCidrs: [10.1.40.0/24]
        bucket: hml-prod-mlflow-artifacts
        accessKeyIdKey: mlflowOnpremS3AccessKeyId
        secretAccessKeyKey: mlflowOnpremS3SecretAccessKey
      volumeSnapshotClass: csi-rbdplugin-snapclass
dev:
  mlflow:
    clusters: [onprem, aws/eu-west-1]
    artifactStore: artifacts
    database:
      storageGb: 20
    oidc:
      issuerUrl: https://sso.hml.internal/realms/ml-dev
      clientId: mlflow
      clientSecretKey: mlflowOidcClientSecret
      jwksUri: https://sso.hml.internal/realms/ml-dev/protocol/openid-connect/certs
      audiences: [mlflow]
    onprem:
      artifacts:
        endpointUrl: https://s3.ams-dc1.hml.internal
        endpointCidrs: [10.1.40.0/24]
        bucket: hml-dev-mlflow-artifacts
""")
K = "hybrid-ml-platform:platform.services.mlflow"
PROD_CLUSTERS = {"onprem": "onprem-prod", "aws": "hml-prod-aws-eu-west-1",
                 "gcp": "hml-prod-gcp-europe-west4", "azure": "hml-prod-azure-westeurope"}
CLOUD_CLUSTERS = {v for k, v in PROD_CLUSTERS.items() if k != "onprem"}
#: Variables that would mean a static cloud credential in a pod.
STATIC_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AZURE_CLIENT_SECRET",
               "AZURE_STORAGE_ACCESS_KEY", "AZURE_STORAGE_CONNECTION_STRING",
               "GOOGLE_APPLICATION_CREDENTIALS")


def with_mlflow(stack: str, **over: Any) -> dict[str, Any]:
    platform = stack_platform(stack)
    platform.setdefault("services", {})["mlflow"] = {**copy.deepcopy(SNIPPET[stack]["mlflow"]), **over}
    return platform


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    project = write_stack(tmp_path_factory.mktemp("mlflow-prod"), "prod", with_mlflow("prod"))
    # Canary passwords: a real preview never knows them, which would make the leak check vacuous.
    return run_preview(project, "prod", resource_mocks=canary_mocks())


@pytest.fixture(scope="module")
def two_gcp_regions(tmp_path_factory):
    """Prod with a second GCP region (europe-west1) in the VPC; MLflow stays where the store is.
    Services that are not under test here are left out."""
    platform = with_mlflow("prod")
    for service in ("kafka", "serving"):
        platform["services"].pop(service, None)
    platform["sites"]["gcp"]["regions"].append("europe-west1")
    platform["network"]["gcp"]["europe-west1"] = {"cidr": "10.33.0.0/16", "asn": 64631}
    for allowed in (platform["residency"], *platform["residency"]["classifications"].values()):
        allowed["allowedRegions"].append("europe-west1")
    return run_preview(write_stack(tmp_path_factory.mktemp("mlflow-gcp2"), "prod", platform), "prod")


def _objects(result, kind: str | None = None, cluster: str | None = None) -> list:
    return [o for o in kubernetes_objects(result.plan)
            if o.namespace == "mlflow" and (kind is None or o.kind == kind)
            and (cluster is None or o.cluster == cluster)]


def _one(result, kind: str, cluster: str, name: str = "mlflow") -> dict[str, Any]:
    [body] = [o.body for o in _objects(result, kind, cluster) if o.name == name]
    return body


def _resources(result, type_: str) -> list[dict[str, Any]]:
    return [r for r in result.plan["resources"] if r["type"] == type_]


# --- the prod stack, end to end -------------------------------------------------------------------

def test_snippets_validate_for_both_stacks():
    for stack in ("dev", "prod"):
        cfg = parse_platform(with_mlflow(stack))
        assert cfg.services.mlflow.clusters == SNIPPET[stack]["mlflow"]["clusters"]
    dev = parse_platform(with_mlflow("dev")).services.mlflow
    assert (dev.high_availability("dev"), dev.backup_retention_days("dev")) == (False, 7)


def test_every_configured_cluster_runs_two_spread_replicas_behind_a_pdb(prod):
    assert prod.schema_check.errors == []  # run_preview raises PreviewError otherwise
    for cluster in PROD_CLUSTERS.values():
        spec = _one(prod, "Deployment", cluster)["spec"]
        assert spec["replicas"] == 2
        assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        keys = {(c["topologyKey"], c["whenUnsatisfiable"]) for c in spec["template"]["spec"]["topologySpreadConstraints"]}
        zone = "ScheduleAnyway" if cluster == "onprem-prod" else "DoNotSchedule"
        assert keys == {("topology.kubernetes.io/zone", zone), ("kubernetes.io/hostname", "DoNotSchedule")}
        assert _one(prod, "PodDisruptionBudget", cluster)["spec"]["minAvailable"] == 1
        assert _one(prod, "Service", cluster)["spec"]["ports"][0]["port"] == 5000
    assert sorted(prod.plan["outputs"]["mlflow"]) == sorted(PROD_CLUSTERS.values())


def test_server_container_is_restricted_pinned_and_probed(prod):
    for cluster in PROD_CLUSTERS.values():
        pod = _one(prod, "Deployment", cluster)["spec"]["template"]["spec"]
        [c] = pod["containers"]
        assert c["image"] == IMAGES["mlflow"].image and c["image"].endswith("-full")
        assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] > 0
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert {m["mountPath"] for m in c["volumeMounts"]} >= {"/tmp", comp.METRICS_DIR}
        assert c["readinessProbe"]["httpGet"]["path"] == "/health"
        assert set(c["resources"]) == {"requests", "limits"}
        args = c["args"]
        # Proxied artifacts are spooled whole to /tmp: room for them, and node disk accounted.
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["tmp"]["emptyDir"]["sizeLimit"] == "20Gi"
        storage = {k: quantity(v["ephemeral-storage"]) for k, v in c["resources"].items()}
        assert storage["requests"] == quantity("2Gi")
        assert storage["limits"] >= quantity("20Gi") + quantity(volumes["metrics"]["emptyDir"]["sizeLimit"])
        # Shutdown: out of the endpoints first, then time for in-flight transfers.
        assert c["lifecycle"]["preStop"] == {"sleep": {"seconds": 15}}
        assert pod["terminationGracePeriodSeconds"] == 600
        for flag in ("--serve-artifacts", "--expose-prometheus", "--allowed-hosts", "--workers"):
            assert flag in args
        hosts = args[args.index("--allowed-hosts") + 1].split(",")
        assert f"mlflow.{cluster}.ml.hml.internal" in hosts and "*" not in hosts

        # Prometheus scrapes by pod IP, wherever in the private ranges the pods are (on-prem the
        # pod range is not in the config; its site ranges are 10.0.0.0/14 only).
        for pod_ip in ("10.244.3.17:5000", "172.20.1.9:5000", "192.168.7.4:5000"):
            assert _admitted(hosts, pod_ip), (cluster, pod_ip)
        assert not _admitted(hosts, "mlflow.evil.example:5000") and not _admitted(hosts, "8.8.8.8:5000")
        # The backend URI comes from the Secret, never from the command line or a plain env value.
        env = {e["name"]: e for e in c["env"]}
        assert env["MLFLOW_BACKEND_STORE_URI"]["valueFrom"]["secretKeyRef"]["name"] == comp.BACKEND_SECRET


def _admitted(patterns: list[str], host: str) -> bool:
    """MLflow 3.x's Host check (security_utils.is_allowed_host_header): fnmatch per pattern."""
    return any(fnmatch.fnmatch(host, p) if "*" in p else host == p for p in patterns)


def test_artifacts_go_to_the_store_of_each_site(prod):
    # The Azure account name ends in a random suffix, unknown until apply (its form: below).
    expected = {"hml-prod-aws-eu-west-1": "s3://hml-prod-artifacts-444455556666-eu-west-1/mlflow",
                "hml-prod-gcp-europe-west4": "gs://hml-prod-ml-artifacts-europe-west4/mlflow",
                "hml-prod-azure-westeurope": "[unknown]",
                "onprem-prod": "s3://hml-prod-mlflow-artifacts/mlflow"}
    out = prod.plan["outputs"]["mlflow"]
    for cluster, uri in expected.items():
        args = _one(prod, "Deployment", cluster)["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[args.index("--artifacts-destination") + 1] == uri, cluster
        assert out[cluster]["artifacts"] == uri
        assert out[cluster]["url"] == f"https://mlflow.{cluster}.ml.hml.internal"
    services = {c: out[c]["database"]["service"] for c in out}
    assert services == {"hml-prod-aws-eu-west-1": "rds", "hml-prod-gcp-europe-west4": "cloud-sql",
                        "hml-prod-azure-westeurope": "azure-flexible-server",
                        "onprem-prod": "cloudnative-pg"}


def test_route_is_created_only_after_its_security_policy(prod):
    by_urn = {r["urn"]: r for r in prod.plan["resources"]}
    for cluster in PROD_CLUSTERS.values():
        [route] = [o for o in _objects(prod, "HTTPRoute", cluster)]
        [policy] = [o for o in _objects(prod, "SecurityPolicy", cluster)]
        [service] = [o for o in _objects(prod, "Service", cluster) if o.name == "mlflow"]
        route_deps = by_urn[route.urn]["dependencies"]
        # Never a moment without authentication: the policy exists before the route does.
        assert policy.urn in route_deps and service.urn in route_deps
        assert route.urn not in by_urn[policy.urn]["dependencies"]


def test_route_and_security_policy_sign_in_browsers_and_admit_bearer_tokens(prod):
    for cluster in PROD_CLUSTERS.values():
        host = f"mlflow.{cluster}.ml.hml.internal"
        route = _one(prod, "HTTPRoute", cluster)["spec"]
        assert route["hostnames"] == [host]
        [parent] = route["parentRefs"]
        assert (parent["namespace"], parent["name"], parent["sectionName"]) == ("gateway", "platform", "https")
        policy = _one(prod, "SecurityPolicy", cluster)
        assert policy["apiVersion"] == "gateway.envoyproxy.io/v1alpha1"
        spec = policy["spec"]
        assert spec["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "mlflow"}]
        oidc, jwt = spec["oidc"], spec["jwt"]
        assert oidc["provider"]["issuer"].endswith("/v2.0") and oidc["passThroughAuthHeader"] is True
        assert oidc["redirectURL"] == f"https://{host}/oauth2/callback" and oidc["logoutPath"] == "/logout"
        assert oidc["clientSecret"]["name"] == comp.OIDC_SECRET
        [provider] = jwt["providers"]
        assert provider["remoteJWKS"]["uri"].endswith("/discovery/v2.0/keys")
        assert provider["audiences"] == ["5d3c1b2a-9e8f-4a7b-8c6d-2e1f0a9b8c7d"]
        assert provider["extractFrom"] == {"headers": [{"name": "Authorization", "valuePrefix": "Bearer "}]}
        oidc_secret = _one(prod, "Secret", cluster, comp.OIDC_SECRET)
        assert oidc_secret["stringData"] == "[secret]"


def test_mlflow_enforces_team_permissions_itself_behind_the_sign_on(prod):
    by_urn = {r["urn"]: r for r in prod.plan["resources"]}
    for cluster in PROD_CLUSTERS.values():
        # The Gateway hands a signed-in browser's access token on to MLflow, which checks it,
        # and lets nothing through without a valid token (no Basic or other header skips it).
        spec = _one(prod, "SecurityPolicy", cluster)["spec"]
        assert spec["oidc"]["forwardAccessToken"] is True and spec["oidc"]["passThroughAuthHeader"] is True
        assert spec["jwt"]["optional"] is False
        [deployment] = _objects(prod, "Deployment", cluster)
        pod = deployment.body["spec"]["template"]
        [container] = pod["spec"]["containers"]
        assert container["args"][:4] == ["server", "--app-name", "basic-auth", "--enable-workspaces"]
        env = {e["name"]: e for e in container["env"]}
        assert env["MLFLOW_AUTH_CONFIG_PATH"]["value"] == "/etc/mlflow/auth/basic_auth.ini"
        assert env["PYTHONPATH"]["value"] == mlflow_auth.PLUGIN_DIR
        for var, key in (("MLFLOW_AUTH_ADMIN_PASSWORD", "admin-password"),
                         ("MLFLOW_FLASK_SERVER_SECRET_KEY", "csrf-key")):
            assert env[var]["valueFrom"]["secretKeyRef"] == {"name": comp.AUTH_SECRET, "key": key}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        assert volumes[mounts["/etc/mlflow/auth"]]["secret"]["secretName"] == comp.AUTH_SECRET
        assert volumes[mounts[mlflow_auth.PLUGIN_DIR]]["configMap"]["name"] == comp.PLUGIN_CONFIGMAP
        # The code it runs is the repository's, and new code rolls the servers.
        plugin = _one(prod, "ConfigMap", cluster, comp.PLUGIN_CONFIGMAP)
        assert plugin["data"] == {mlflow_auth.PLUGIN_FILE: mlflow_auth.plugin_source()}
        assert pod["metadata"]["annotations"]["hybridml.io/auth-plugin"] == mlflow_auth.plugin_checksum()
        # Its config names the database (with the password): a Secret, never plain.
        assert _one(prod, "Secret", cluster, comp.AUTH_SECRET)["stringData"] == "[secret]"
        teams = json.loads(_one(prod, "ConfigMap", cluster, comp.TEAMS_CONFIGMAP)["data"]["teams.json"])
        assert teams["issuer"].endswith("/v2.0") and teams["jwksUri"].endswith("/discovery/v2.0/keys")
        assert teams["usernameClaim"] == "sub"  # the snippet's default
        # The snippet names no admin group: only the break-glass admin administers MLflow.
        assert teams["adminGroups"] == [] and teams["workspaces"] == {}
        # Workspaces and roles exist before the servers that grant them start; after migrations.
        [job] = [o for o in _objects(prod, "Job", cluster) if o.name.startswith("mlflow-workspaces-")]
        [migrate] = [o for o in _objects(prod, "Job", cluster) if o.name.startswith("mlflow-db-upgrade-")]
        assert migrate.urn in by_urn[job.urn]["dependencies"]
        assert job.urn in by_urn[deployment.urn]["dependencies"]
        [jc] = job.body["spec"]["template"]["spec"]["containers"]
        assert jc["command"] == ["python", "-c", mlflow_auth.WORKSPACES_SCRIPT]
        # ...and hourly, the same pod, so an edited team role is put back.
        [cron] = [o for o in _objects(prod, "CronJob", cluster)]
        assert cron.body["spec"]["concurrencyPolicy"] == "Forbid"
        assert cron.body["spec"]["jobTemplate"]["spec"]["template"] == job.body["spec"]["template"]
        assert not any("postgresql" in part for part in jc["command"])
        # MLflow fetches the IdP's keys itself: public HTTPS from the server pods.
        idp = {o.name: o.body["spec"] for o in _objects(prod, "NetworkPolicy", cluster)}["mlflow-egress-idp"]
        [rule] = idp["egress"]
        assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
        assert rule["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0"
        assert idp["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "server"


def test_a_private_idp_range_is_admitted_and_a_public_one_refused(tmp_path):
    dev = run_preview(ROOT, "dev")
    [idp] = [o.body["spec"] for o in kubernetes_objects(dev.plan)
             if o.kind == "NetworkPolicy" and o.name == "mlflow-egress-idp" and o.cluster == "onprem-dev"]
    assert {"ipBlock": {"cidr": "10.1.20.0/28"}} in idp["egress"][0]["to"]
    p = stack_platform("dev")
    p["services"]["mlflow"]["oidc"]["idpCidrs"] = ["52.1.0.0/16"]
    with pytest.raises(ConfigError) as err:
        parse_platform(p)
    assert ("services.mlflow.oidc.idpCidrs[0]: bad value '52.1.0.0/16'; a non-public range"
            in str(err.value))


def test_auth_config_keeps_percent_encoded_passwords_intact():
    import configparser

    uri = "postgresql+psycopg2://mlflow:p%40ss%25w@db:5432/mlflow?sslmode=require"
    parser = configparser.ConfigParser()
    parser.read_string(mlflow_auth.auth_ini(uri))
    assert parser["mlflow"]["database_uri"] == uri
    assert parser["mlflow"]["authorization_function"] == mlflow_auth.AUTHORIZATION_FUNCTION


def test_policy_pack_finds_nothing_in_mlflow_resources(prod):
    from stacks.preview.analyzer_client import run_policy_pack

    config = json.loads((ROOT / "policies" / "config.prod.json").read_text())
    report = run_policy_pack(ROOT / "policies", prod.plan["resources"], config, analyze_all_resources=True)
    mine = [d for d in report.diagnostics if d.urn and ("mlflow" in d.urn or "cnpg" in d.urn)]
    assert mine == [], [(d.policy_name, d.urn, d.message) for d in mine]
    ours = [r for r in prod.plan["resources"] if "mlflow" in r["urn"]]
    assert len(ours) > 40  # the check above looked at something


def test_no_static_cloud_keys_on_cloud_clusters(prod):
    for o in _objects(prod):
        if o.cluster in CLOUD_CLUSTERS:
            text = json.dumps(o.body)
            assert not any(key in text for key in STATIC_KEYS), (o.cluster, o.kind, o.name)
    key_types = ("aws:iam/accessKey:AccessKey", "gcp:serviceaccount/key:Key",
                 "azuread:index/servicePrincipalPassword:ServicePrincipalPassword",
                 "azuread:index/applicationPassword:ApplicationPassword")
    assert not [r for r in prod.plan["resources"] if r["type"] in key_types]
    # On-prem, the documented exception: the pair only by reference to its Secret.
    env = _one(prod, "Deployment", "onprem-prod")["spec"]["template"]["spec"]["containers"][0]["env"]
    pair = [e for e in env if e["name"] in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")]
    assert len(pair) == 2 and all(e["valueFrom"]["secretKeyRef"]["name"] == comp.ARTIFACT_CREDENTIALS_SECRET
                                  for e in pair)
    assert _one(prod, "Secret", "onprem-prod", comp.ARTIFACT_CREDENTIALS_SECRET)["stringData"] == "[secret]"


def test_workload_identity_grants_name_the_deployments_service_account(prod):
    for cluster in CLOUD_CLUSTERS:
        pod = _one(prod, "Deployment", cluster)["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == comp.SERVICE_ACCOUNT
        assert _one(prod, "ServiceAccount", cluster, comp.SERVICE_ACCOUNT)
    assocs = [r["inputs"] for r in _resources(prod, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
              if r["inputs"]["namespace"] == "mlflow"]
    assert [a["serviceAccount"] for a in assocs] == [comp.SERVICE_ACCOUNT]
    members = [r["inputs"]["member"] for r in _resources(prod, "gcp:storage/bucketIAMMember:BucketIAMMember")
               if "mlflow" in r["urn"]]
    assert members == [("principal://iam.googleapis.com/projects/812345678901/locations/global/"
                       "workloadIdentityPools/hml-prod-ml.svc.id.goog/subject/ns/mlflow/sa/mlflow")]
    creds = [r["inputs"] for r in _resources(
        prod, "azure-native:managedidentity:FederatedIdentityCredential") if "mlflow" in r["urn"]]
    assert [c["subject"] for c in creds] == ["system:serviceaccount:mlflow:mlflow"]
    assert creds[0]["audiences"] == ["api://AzureADTokenExchange"]
    azure = "hml-prod-azure-westeurope"
    sa = _one(prod, "ServiceAccount", azure, comp.SERVICE_ACCOUNT)
    assert "azure.workload.identity/client-id" in sa["metadata"]["annotations"]
    labels = _one(prod, "Deployment", azure)["spec"]["template"]["metadata"]["labels"]
    assert labels["azure.workload.identity/use"] == "true"


def test_databases_are_the_sites_managed_postgres_protected_in_prod(prod):
    [rds] = [r for r in _resources(prod, "aws:rds/instance:Instance") if "mlflow" in r["urn"]]
    assert rds["inputs"]["multiAz"] is True and rds["inputs"]["backupRetentionPeriod"] == 14
    assert rds["protect"] is True
    [sql] = [r for r in _resources(prod, "gcp:sql/databaseInstance:DatabaseInstance") if "mlflow" in r["urn"]]
    assert sql["inputs"]["settings"]["availabilityType"] == "REGIONAL"
    assert sql["inputs"]["settings"]["ipConfiguration"]["allocatedIpRange"] == "hml-prod-psa-europe-west4"
    [psa] = [r["urn"] for r in _resources(prod, "gcp:servicenetworking/connection:Connection")]
    assert psa in _ancestors_dependencies(prod, sql)  # Cloud SQL waits for Private Service Access
    [flex] = [r for r in _resources(prod, "azure-native:dbforpostgresql:Server") if "mlflow" in r["urn"]]
    assert flex["inputs"]["highAvailability"]["mode"] == "ZoneRedundant" and flex["protect"] is True
    clusters = [o for o in kubernetes_objects(prod.plan) if o.kind == "Cluster" and o.cluster == "onprem-prod"]
    assert len(clusters) == 1 and clusters[0].namespace == "mlflow"


def _ancestors_dependencies(result, resource: dict[str, Any]) -> list[str]:
    """Dependencies of a resource and of its component ancestors (depends_on on a component)."""
    by_urn = {r["urn"]: r for r in result.plan["resources"]}
    out, cur = [], resource
    while cur is not None:
        out += cur.get("dependencies") or []
        cur = by_urn.get(cur.get("parent") or "")
    return out


def test_egress_is_named_ranges_and_ports_only(prod):
    # RDS: the VPC's private subnets; Cloud SQL: the Private Service Access range; Azure: the
    # subnet delegated to flexible servers.
    dbs = {"hml-prod-aws-eu-west-1": ["10.16.0.0/18", "10.16.64.0/18", "10.16.128.0/18"],
           "hml-prod-gcp-europe-west4": ["10.32.224.0/19"],
           "hml-prod-azure-westeurope": ["10.48.144.0/20"]}
    identity = {"hml-prod-aws-eu-west-1": {("169.254.170.23/32", 80)},
                "hml-prod-gcp-europe-west4": {("169.254.169.254/32", 80), ("169.254.169.252/32", 988)}}
    for cluster in PROD_CLUSTERS.values():
        policies = {o.name: o.body["spec"] for o in _objects(prod, "NetworkPolicy", cluster)
                    if o.name.startswith("mlflow-")}
        [db_rule] = policies["mlflow-egress-database"]["egress"]
        assert db_rule["ports"] == [{"protocol": "TCP", "port": 5432}]
        # Only MLflow's pods (servers and the migration Job) get it.
        assert policies["mlflow-egress-database"]["podSelector"] == {"matchLabels": comp.APP_LABELS}
        if cluster in dbs:
            assert db_rule["to"] == [{"ipBlock": {"cidr": c}} for c in dbs[cluster]]
            [https] = policies["mlflow-egress-object-store"]["egress"]
            assert https["ports"] == [{"protocol": "TCP", "port": 443}]
            block, *endpoints = https["to"]
            assert block["ipBlock"]["cidr"] == "0.0.0.0/0"
            assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(block["ipBlock"]["except"])
            # Azure storage takes no public traffic: its private-endpoint subnet.
            private = [{"ipBlock": {"cidr": "10.48.128.0/20"}}] if "azure" in cluster else []
            assert endpoints == private
        else:  # CloudNativePG in the namespace: its pods, not the whole namespace
            assert db_rule["to"] == [{"podSelector": {"matchLabels": {"cnpg.io/cluster": "mlflow-postgres"}}}]
            [store] = policies["mlflow-egress-object-store"]["egress"]
            assert store == {"to": [{"ipBlock": {"cidr": "10.1.40.0/24"}}],
                             "ports": [{"protocol": "TCP", "port": 443}]}
        got = {(p["to"][0]["ipBlock"]["cidr"], p["ports"][0]["port"])
               for p in policies.get("mlflow-egress-workload-identity", {}).get("egress", [])}
        assert got == identity.get(cluster, set())


def test_cloud_sql_takes_its_address_from_its_own_regions_range(two_gcp_regions):
    ranges = {r["inputs"]["name"]: r for r in _resources(two_gcp_regions, "gcp:compute/globalAddress:GlobalAddress")}
    assert set(ranges) == {"hml-prod-psa-europe-west4", "hml-prod-psa-europe-west1"}
    [sql] = [r for r in _resources(two_gcp_regions, "gcp:sql/databaseInstance:DatabaseInstance")
             if "mlflow" in r["urn"]]
    # Named, not left to Google (which may take any range of the peering, e.g. europe-west1's).
    assert sql["inputs"]["settings"]["ipConfiguration"]["allocatedIpRange"] == "hml-prod-psa-europe-west4"
    assert ranges["hml-prod-psa-europe-west4"]["urn"] in sql["dependencies"]
    own = ranges["hml-prod-psa-europe-west4"]["inputs"]
    [policy] = [o.body["spec"] for o in _objects(two_gcp_regions, "NetworkPolicy", PROD_CLUSTERS["gcp"])
                if o.name == "mlflow-egress-database"]
    [rule] = policy["egress"]
    # The server's egress admits exactly that range.
    assert rule["to"] == [{"ipBlock": {"cidr": f"{own['address']}/{own['prefixLength']}"}}]
    # Cloud SQL's APIs are enabled once per project, never disabled on destroy, before use.
    apis = {r["inputs"]["service"]: r for r in _resources(two_gcp_regions, "gcp:projects/service:Service")}
    assert set(apis) >= {"sqladmin.googleapis.com", "servicenetworking.googleapis.com"}
    assert all(a["inputs"]["disableOnDestroy"] is False for a in apis.values())
    assert apis["sqladmin.googleapis.com"]["urn"] in _ancestors_dependencies(two_gcp_regions, sql)


def test_migrations_run_once_before_the_servers(prod):
    by_urn = {r["urn"]: r for r in prod.plan["resources"]}
    for cluster in PROD_CLUSTERS.values():
        [job] = [o for o in _objects(prod, "Job", cluster) if o.name.startswith("mlflow-db-upgrade-")]
        assert job.name.startswith("mlflow-db-upgrade-v3-")
        container = job.body["spec"]["template"]["spec"]["containers"][0]
        # The URI (with the password) stays in the environment: nothing in argv refers to it.
        assert container["command"][:2] == ["python", "-c"] and "args" not in container
        assert not any("$(" in part or "postgresql" in part for part in container["command"])
        assert f'os.environ["{comp.BACKEND_ENV}"]' in container["command"][2]
        env = {e["name"]: e for e in container["env"]}
        assert env[comp.BACKEND_ENV]["valueFrom"]["secretKeyRef"]["name"] == comp.BACKEND_SECRET
        spec, annotations = job.body["spec"], job.body["metadata"]["annotations"]
        assert (spec["backoffLimit"], spec["activeDeadlineSeconds"]) == (6, 1800)
        # Pulumi waits longer than the Job may run; a failed Job is replaced by the next `up`.
        assert int(annotations["pulumi.com/timeoutSeconds"]) > spec["activeDeadlineSeconds"]
        assert annotations["pulumi.com/replaceUnready"] == "true"
        [deployment] = [o for o in _objects(prod, "Deployment", cluster)]
        assert job.urn in by_urn[deployment.urn]["dependencies"]
        # Its database egress rule exists before its first attempt.
        [egress] = [o for o in _objects(prod, "NetworkPolicy", cluster) if o.name == "mlflow-egress-database"]
        assert egress.urn in by_urn[job.urn]["dependencies"]


def test_migration_initialises_an_empty_database_and_upgrades_an_existing_one(monkeypatch):
    # The Job's script, with MLflow and SQLAlchemy stubbed: it connects to the URI from the
    # environment and picks MLflow's initial schema or the migrations by what the database holds.
    import types

    tables: list[str] = []
    calls: list[tuple[str, str]] = []
    engine = types.SimpleNamespace(url=None)

    def connect(url: str) -> Any:
        engine.url = url
        return engine

    sqlalchemy = types.ModuleType("sqlalchemy")
    sqlalchemy.inspect = lambda eng: types.SimpleNamespace(get_table_names=lambda: list(tables))
    utils = types.ModuleType("mlflow.store.db.utils")
    utils.create_sqlalchemy_engine_with_retry = connect
    utils._initialize_tables = lambda eng: calls.append(("initialize", eng.url))
    utils._upgrade_db = lambda eng: calls.append(("upgrade", eng.url))
    utils._get_schema_version = lambda eng: "head"
    store = types.ModuleType("mlflow.store.db")
    store.utils = utils
    auth_utils = types.ModuleType("mlflow.server.auth.db.utils")
    auth_utils.migrate_if_needed = lambda eng, rev: calls.append(("auth", eng.url))
    auth_db = types.ModuleType("mlflow.server.auth.db")
    auth_db.utils = auth_utils
    for name, module in {"sqlalchemy": sqlalchemy, "mlflow": types.ModuleType("mlflow"),
                         "mlflow.store": types.ModuleType("mlflow.store"),
                         "mlflow.store.db": store, "mlflow.store.db.utils": utils,
                         "mlflow.server": types.ModuleType("mlflow.server"),
                         "mlflow.server.auth": types.ModuleType("mlflow.server.auth"),
                         "mlflow.server.auth.db": auth_db,
                         "mlflow.server.auth.db.utils": auth_utils}.items():
        monkeypatch.setitem(sys.modules, name, module)
    uri = "postgresql+psycopg2://mlflow:pw@db:5432/mlflow?sslmode=require"
    monkeypatch.setenv(comp.BACKEND_ENV, uri)
    for present in ([], ["alembic_version"], ["alembic_version", "experiments", "runs"]):
        tables[:] = present
        exec(comp.DB_UPGRADE_SCRIPT, {})  # noqa: S102 - the Job's own script, stubbed modules
    # Empty (an alembic table left by a failed attempt is still empty): the initial schema;
    # the auth app's tables are migrated every time, in the same database.
    assert calls == [("initialize", uri), ("auth", uri), ("initialize", uri), ("auth", uri),
                     ("upgrade", uri), ("auth", uri)]


def test_onprem_database_waits_until_ready_and_admits_only_mlflow_and_the_operator(prod):
    [cluster] = [o for o in kubernetes_objects(prod.plan) if o.kind == "Cluster" and o.cluster == "onprem-prod"]
    assert cluster.body["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
    policies = {o.name: o.body["spec"] for o in _objects(prod, "NetworkPolicy", "onprem-prod")
                if o.name.startswith("mlflow-postgres-")}
    ingress = {name: spec["ingress"] for name, spec in policies.items() if "ingress" in spec}
    assert set(ingress) == {"mlflow-postgres-from-operator", "mlflow-postgres-from-clients",
                            "mlflow-postgres-between-instances"}
    [clients] = ingress["mlflow-postgres-from-clients"]
    assert clients == {"from": [{"podSelector": {"matchLabels": comp.APP_LABELS}}],
                       "ports": [{"protocol": "TCP", "port": 5432}]}
    # The migration Job waits for the database Cluster, which Pulumi awaits until Ready.
    [job] = [o for o in _objects(prod, "Job", "onprem-prod") if o.name.startswith("mlflow-db-upgrade-")]
    by_urn = {r["urn"]: r for r in prod.plan["resources"]}
    assert cluster.urn in by_urn[job.urn]["dependencies"]


def test_passwords_and_oidc_secret_never_appear_in_plain(prod):
    text = json.dumps(prod.plan)
    assert CANARY not in text and PLACEHOLDER not in text
    for cluster in PROD_CLUSTERS.values():
        assert _one(prod, "Secret", cluster, comp.BACKEND_SECRET)["stringData"] == "[secret]"
    # ...while the Secret really carries the generated password (wire form: a wrapped secret).
    # On-prem the database host is known at preview (cloud hosts are not, so neither is the URI).
    [raw] = [r for r in prod.capture.resources
             if r.type == "kubernetes:core/v1:Secret" and r.name == "mlflow-onprem-prod-backend-store"]
    uri = json.dumps(raw.inputs["stringData"])
    assert "4dabf18193072939515e22adb298388d" in uri  # the engine's secret marker
    assert (f"postgresql+psycopg2://mlflow:{CANARY}-mlflow-db-onprem-prod-password"
            "@mlflow-postgres-rw.mlflow.svc:5432/mlflow?sslmode=require") in uri


# --- refusals ------------------------------------------------------------------------------------

def test_unknown_cluster_is_refused_with_the_clusters_of_the_stack():
    [line] = problems_of(with_mlflow("dev", clusters=["onprem", "gcp/europe-west4"]))
    assert line.startswith(f"{K}.clusters[1]: bad value 'gcp/europe-west4'; allowed: clusters of this stack")
    assert "onprem, aws/eu-west-1" in line


def test_cluster_without_the_store_in_its_region_is_refused():
    platform = with_mlflow("prod")
    platform["kubernetes"]["aws"]["eu-central-1"] = {}
    platform["services"]["mlflow"]["clusters"].append("aws/eu-central-1")
    [line] = problems_of(platform)
    assert line.startswith(f"{K}.clusters[4]: bad value 'aws/eu-central-1'; artifact store 'artifacts'")
    assert "allowed: aws/eu-west-1, gcp/europe-west4, azure/westeurope, onprem" in line


def test_unknown_store_namespace_and_missing_onprem_artifacts_are_refused():
    platform = with_mlflow("dev", artifactStore="models", namespace="ml")
    del platform["services"]["mlflow"]["onprem"]
    lines = problems_of(platform)
    assert f"{K}.artifactStore: bad value 'models'; allowed: names of storage.stores (artifacts)" in lines
    assert any(line.startswith(f"{K}.onprem: missing; required when onprem is in") for line in lines)
    assert any(line.startswith(f"{K}.namespace: bad value 'ml'; allowed: platform namespaces") for line in lines)


def test_structural_mistakes_name_the_key():
    platform = with_mlflow("dev")
    platform["services"]["mlflow"]["oidc"]["issuerUrl"] = "http://sso.hml.internal/realms/ml-dev"
    platform["services"]["mlflow"]["replicas"] = 1
    lines = problems_of(platform)
    assert any(line.startswith(f"{K}.oidc.issuerUrl: bad value 'http://") for line in lines)
    assert any(line.startswith(f"{K}.replicas: bad value 1") for line in lines)


def test_cli_refuses_bad_mlflow_config_with_exit_2_and_writes_nothing(tmp_path):
    platform = with_mlflow("prod", clusters=["onprem", "aws/eu-central-1"])
    project = write_stack(tmp_path, "prod", platform)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "stacks", "preview", "prod", "-C", str(project), "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{K}.clusters[1]: bad value 'aws/eu-central-1'; allowed: clusters of this stack" in proc.stderr
    assert not out.exists()


def _cli_refusal(tmp_path, platform: dict) -> str:
    project = write_stack(tmp_path, "prod", platform)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "stacks", "preview", "prod", "-C", str(project), "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()
    return proc.stderr


def _public_range(site: str, region: str, cidr: str):
    """A cloud region in a range the network config accepts as private (extraPrivateRanges) but
    the database components do not (publicly routable)."""
    def change(platform: dict) -> None:
        platform["network"]["extraPrivateRanges"] = ["11.0.0.0/8"]
        platform["network"][site][region]["cidr"] = cidr
    return change


def _gcp_one_backup(platform: dict) -> None:
    platform["services"]["mlflow"]["database"]["backupRetentionDays"] = 1


def _onprem_volumes_over_quota(platform: dict) -> None:
    platform["services"]["mlflow"]["database"]["storageGb"] = 200  # 3 x 200Gi > 500Gi quota


@pytest.mark.parametrize("cluster,change,expected", [
    ("aws/eu-west-1", _public_range("aws", "eu-west-1", "11.16.0.0/16"),
     (f"{K}.clusters[0]: bad value 'aws/eu-west-1'; its database would be in "
      "network.aws.eu-west-1.cidr (11.16.0.0/16), a publicly routable range")),
    ("gcp/europe-west4", _gcp_one_backup,
     f"{K}.database.backupRetentionDays: bad value 1; at least 2 when MLflow runs on GCP"),
    ("azure/westeurope", _public_range("azure", "westeurope", "11.48.0.0/16"),
     (f"{K}.clusters[0]: bad value 'azure/westeurope'; its database would be in "
      "network.azure.westeurope.cidr (11.48.0.0/16), a publicly routable range")),
    ("onprem", _onprem_volumes_over_quota,
     (f"{K}.database.storageGb: bad value 200; on-prem 3 instance volume(s) of this size (600Gi) "
     "must fit the mlflow namespace's quota (kubernetes.namespaces[0].quota.storage = 500Gi): "
     "at most 166")),
])
def test_cli_refuses_what_each_sites_database_would_refuse(tmp_path, cluster, change, expected):
    # Values the components (or the site) would refuse halfway through `pulumi up` are config
    # errors: exit 2, the key path, no traceback, nothing written.
    platform = with_mlflow("prod", clusters=[cluster])
    if cluster != "onprem":
        platform["services"]["mlflow"].pop("onprem")
    change(platform)
    assert expected in _cli_refusal(tmp_path, platform)


def test_secret_keys_are_named_for_the_preview():
    from stacks.plan.mlflow import secret_keys

    assert secret_keys(parse_platform(with_mlflow("prod"))) == [
        "mlflowOidcClientSecret", "mlflowOnpremS3AccessKeyId", "mlflowOnpremS3SecretAccessKey"]
    assert secret_keys(parse_platform(with_mlflow("prod", clusters=["aws/eu-west-1"], onprem=None))) == [
        "mlflowOidcClientSecret"]


# --- the component on its own --------------------------------------------------------------------

TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="confidential")


def _args(**over: Any) -> comp.TrackingServerArgs:
    fields: dict[str, Any] = {
        "cluster_name": "c1", "base_domain": "ml.example.internal", "site": "aws",
        "database": comp.DatabaseConnection(host="db.internal", port=5432, database="mlflow",
                                            username="mlflow", password="p@ss:w/rd%",
                                            sslmode="require", cidrs=("10.20.0.0/16",)),
        "artifacts": comp.ArtifactTarget(kind="s3", bucket="bkt", region="eu-west-1"),
        "oidc": comp.OidcAuth(issuer_url="https://idp.example.com", client_id="mlflow",
                              client_secret="oidc-secret-value", jwks_uri="https://idp.example.com/jwks",
                              audiences=("mlflow",)),
        "pod_cidrs": ("10.20.0.0/16",), "tags": TAGS}
    return comp.TrackingServerArgs(**{**fields, **over})


def _program(args_: comp.TrackingServerArgs, monitoring: bool = False):
    def program() -> None:
        provider = k8s.Provider("k8s-c1", kubeconfig="unused", cluster_identifier="c1")
        over: dict[str, Any] = {}
        if monitoring:
            over["monitoring_crds"] = k8s.core.v1.ConfigMap(
                "crds", metadata={"name": "crds", "namespace": "monitoring"},
                opts=pulumi.ResourceOptions(provider=provider))
        comp.TrackingServer("mlflow-c1", args_.model_copy(update=over),
                            pulumi.ResourceOptions(providers=[provider]))
    return program


def test_service_monitor_only_with_the_monitoring_crds():
    def monitors(plan: dict[str, Any]) -> list[dict[str, Any]]:
        return [r for r in plan["resources"] if r["inputs"].get("kind") == "ServiceMonitor"]

    assert monitors(component_plan(_program(_args()))) == []
    plan = component_plan(_program(_args(), monitoring=True))
    [monitor] = monitors(plan)
    assert monitor["inputs"]["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
    [crds] = [r for r in plan["resources"] if r["name"] == "crds"]
    assert crds["urn"] in monitor["dependencies"]


def test_backend_uri_url_encodes_the_password_and_stays_secret():
    cap = run_program(_program(_args()), "hybrid-ml-platform", "prod",
                      {"pulumi:disable-default-providers": ["*"]}, {}, resource_mocks=PreviewMocks())
    [secret] = [r for r in cap.resources if r.name == "mlflow-c1-backend-store"]
    text = json.dumps(secret.inputs["stringData"])
    assert "postgresql+psycopg2://mlflow:p%40ss%3Aw%2Frd%25@db.internal:5432/mlflow?sslmode=require" in text
    assert "4dabf18193072939515e22adb298388d" in text  # the engine's secret marker


def test_cloud_sites_refuse_static_keys_and_mismatched_stores():
    with pytest.raises(ValidationError, match="static keys are refused"):
        comp.ArtifactTarget(kind="s3", bucket="b", access_key_id="AKIA", secret_access_key="x")
    with pytest.raises(ValidationError, match="keeps artifacts in gcs"):
        _args(site="gcp")
    with pytest.raises(ValidationError, match="needs endpoint_url"):
        comp.ArtifactTarget(kind="s3-compatible", bucket="b", access_key_id="a", secret_access_key="s")
    with pytest.raises(ValidationError, match="not pinned"):
        _args(image="ghcr.io/mlflow/mlflow:latest")
    with pytest.raises(ValidationError, match="replicas"):
        _args(replicas=1)
    # A database is named by its ranges or (in the namespace) its pods; never "every pod".
    base = _args().database.model_dump()
    for place in ({"cidrs": ()}, {"pod_labels": {"cnpg.io/cluster": "db"}}):
        with pytest.raises(ValidationError, match="either by its ranges"):
            comp.DatabaseConnection(**{**base, **place})
    # Non-public ranges the network config may declare private pass; public ones never.
    assert comp.DatabaseConnection(**{**base, "cidrs": ("100.64.0.0/18",)}).cidrs == ("100.64.0.0/18",)
    for public in ("11.16.0.0/16", "0.0.0.0/0"):
        with pytest.raises(ValidationError, match="non-public"):
            comp.DatabaseConnection(**{**base, "cidrs": (public,)})


def test_azure_artifacts_are_a_wasbs_uri_of_the_account_and_container():
    target = comp.ArtifactTarget(kind="azure-blob", bucket="artifacts", account_name="hmlprodart123456")
    plan = component_plan(_program(_args(site="azure", artifacts=target)))
    [deployment] = [r for r in plan["resources"] if r["type"] == "kubernetes:apps/v1:Deployment"]
    args = deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--artifacts-destination") + 1] == \
        "wasbs://artifacts@hmlprodart123456.blob.core.windows.net/mlflow"


def test_host_patterns_admit_pod_ips_only_at_octet_granularity():
    assert comp.host_patterns(["10.64.0.0/18", "100.64.0.0/16", "10.0.0.0/14", "10.1.2.0/26"]) == [
        "10.64.*", "100.64.*", "10.*", "10.1.2.*"]
