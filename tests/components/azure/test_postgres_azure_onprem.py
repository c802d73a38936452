"""Azure PostgreSQL flexible server, Azure workload identity and the on-prem CloudNativePG database.

Components under the offline preview: what each one creates, how its pieces are wired, that
generated passwords stay secrets, and that the policy pack finds nothing to object to.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pulumi
import pulumi_azure_native as azure
import pulumi_kubernetes as k8s
import pulumi_random as random
import pytest
from pydantic import ValidationError

from components.azure import postgres as azpg
from components.azure.postgres import PostgresDatabase, PostgresDatabaseArgs
from components.azure.workload_identity import StoreAccess, StoreAccessArgs
from components.kubernetes.charts import CHARTS
from components.kubernetes.objects import object_labels
from components.kubernetes.postgres_onprem import (
    CloudNativePgOperator,
    CloudNativePgOperatorArgs,
    OnPremPostgres,
    OnPremPostgresArgs,
)
from components.tags import REQUIRED_TAG_KEYS, StandardTags
from stacks.preview.analyzer_client import run_policy_pack
from stacks.preview.manifests import kubernetes_objects, validate_objects
from stacks.preview.offline import SECRET_SIG, SIG_KEY
from tests.conftest import CANARY, canary_mocks, component_plan, resources_of

ROOT = Path(__file__).resolve().parents[3]
TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="internal")
SUB, TENANT = "3f1c2a9e-7b4d-4c1e-9a2f-5d6e7f8a9b0c", "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d"
LOC, PAIR = "westeurope", "northeurope"
RG = f"rg-hml-prod-network-{LOC}"
VNET_ID = (f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/"
           f"virtualNetworks/vnet-hml-prod-{LOC}")
SUBNET_ID = f"{VNET_ID}/subnets/postgres-flexible"
ACCOUNT_ID = (f"/subscriptions/{SUB}/resourceGroups/rg-hml-prod-artifacts-{LOC}/providers/"
              "Microsoft.Storage/storageAccounts/hmlprodartifacts123456")
ISSUER = "https://westeurope.oic.prod-aks.azure.com/8a7b6c5d/0f1e2d3c/"
CLUSTER = "onprem-prod"

T_SERVER = "azure-native:dbforpostgresql:Server"
T_DB = "azure-native:dbforpostgresql:Database"
T_LOCK = "azure-native:authorization:ManagementLockByScope"
T_GRANT = "azure-native:authorization:RoleAssignment"
T_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
T_VAULT, T_KEY = "azure-native:keyvault:Vault", "azure-native:keyvault:Key"
T_ZONE, T_LINK = "azure-native:privatedns:PrivateZone", "azure-native:privatedns:VirtualNetworkLink"
T_PASSWORD = "random:index/randomPassword:RandomPassword"
T_CNPG, T_BACKUP = "kubernetes:postgresql.cnpg.io/v1:Cluster", \
    "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup"
T_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
T_SECRET, T_RELEASE = "kubernetes:core/v1:Secret", "kubernetes:helm.sh/v3:Release"
T_CONFIG = "azure-native:dbforpostgresql:Configuration"
#: MLflow's pods (servers and migration Job), the database's only clients.
CLIENTS = {"app.kubernetes.io/name": "mlflow", "app.kubernetes.io/instance": "mlflow"}


def _azure_args(**kw) -> PostgresDatabaseArgs:
    fields = {"name": "mlflow", "prefix": "hml-prod", "tags": TAGS, "protect": True,
              "high_availability": True, "backup_retention_days": 14, "storage_gb": 50,
              "subscription_id": SUB, "tenant_id": TENANT, "location": LOC,
              "resource_group_name": RG, "delegated_subnet_id": SUBNET_ID, "vnet_id": VNET_ID}
    return PostgresDatabaseArgs(**{**fields, **kw})


def _azure_program(**kw):
    def program():
        provider = azure.Provider(f"azure-{LOC}", location=LOC)
        PostgresDatabase("mlflow-db", _azure_args(**kw), pulumi.ResourceOptions(
            providers=[provider, random.Provider("random")]))
    return program


def _onprem_args(operator: pulumi.Resource, **kw) -> OnPremPostgresArgs:
    fields = {"name": "mlflow", "prefix": "hml-prod", "tags": TAGS, "protect": True,
              "high_availability": True, "backup_retention_days": 14, "storage_gb": 50,
              "namespace": "mlflow", "operator": operator,
              "volume_snapshot_class": "csi-rbdplugin-snapclass",
              "api_server_cidrs": ("10.0.0.0/14",), "client_pod_labels": CLIENTS}
    return OnPremPostgresArgs(**{**fields, **kw})


def _onprem_program(monitoring: bool = False, **kw):
    def program():
        provider = k8s.Provider("onprem", kubeconfig="unused", cluster_identifier=CLUSTER)
        opts = pulumi.ResourceOptions(providers=[provider, random.Provider("random")])
        operator = CloudNativePgOperator("cnpg-onprem", CloudNativePgOperatorArgs(tags=TAGS),
                                         opts)
        crds = None
        if monitoring:  # stands in for kube-prometheus-stack's CRDs
            crds = k8s.core.v1.ConfigMap("monitoring-crds", metadata={
                "name": "crds", "namespace": "monitoring", "labels": object_labels(TAGS)},
                opts=pulumi.ResourceOptions(provider=provider))
        OnPremPostgres("mlflow-db", _onprem_args(operator, monitoring_crds=crds, **kw), opts)
    return program


def _one(plan_: dict, token: str) -> dict:
    [resource] = resources_of(plan_, token)
    return resource


def _by_name(plan_: dict, name: str) -> dict:
    [resource] = [r for r in plan_["resources"] if r["name"] == name]
    return resource


@pytest.fixture(scope="module")
def az() -> dict:
    return component_plan(_azure_program())


@pytest.fixture(scope="module")
def onprem() -> dict:
    return component_plan(_onprem_program(monitoring=True))


@pytest.fixture(scope="module")
def pack_config() -> dict:
    return json.loads((ROOT / "policies/config.prod.json").read_text())


def _mandatory(plan_: dict, pack_config: dict) -> tuple[list, list]:
    res = run_policy_pack(ROOT / "policies", plan_["resources"], pack_config,
                          analyze_all_resources=True)
    return ([d for d in res.diagnostics if d.enforcement_level == "mandatory"],
            [u for u in res.undecided if u.enforcement_level == "mandatory"])


# --- Azure flexible server -------------------------------------------------------------------------


def test_server_is_private_in_the_delegated_subnet_with_linked_private_dns(az):
    server = _one(az, T_SERVER)
    net = server["inputs"]["network"]
    assert net["publicNetworkAccess"] == "Disabled"
    assert net["delegatedSubnetResourceId"] == SUBNET_ID
    zone, link = _one(az, T_ZONE), _one(az, T_LINK)
    assert zone["urn"] in server["propertyDependencies"]["network"]
    assert zone["inputs"]["privateZoneName"] == \
        "hml-prod-mlflow.private.postgres.database.azure.com"
    assert zone["inputs"]["location"] == link["inputs"]["location"] == "global"
    assert link["inputs"]["virtualNetwork"] == {"id": VNET_ID}
    assert link["inputs"]["registrationEnabled"] is False
    assert zone["urn"] in link["propertyDependencies"]["privateZoneName"]
    assert link["urn"] in server["dependencies"]  # resolvable in the VNet once it exists
    assert server["inputs"]["authConfig"] == {"passwordAuth": "Enabled",
                                              "activeDirectoryAuth": "Disabled"}


def test_tls_required_by_server_parameter(az):
    [config] = resources_of(az, "azure-native:dbforpostgresql:Configuration")
    i = config["inputs"]
    assert (i["configurationName"], i["value"], i["source"]) == (
        "require_secure_transport", "on", "user-override")
    assert _one(az, T_SERVER)["urn"] in config["propertyDependencies"]["serverName"]


def test_data_encrypted_with_own_key_reached_by_own_identity(az):
    server = _one(az, T_SERVER)
    enc = server["inputs"]["dataEncryption"]
    assert enc["type"] == "AzureKeyVault"
    key, identity, vault = _one(az, T_KEY), _one(az, T_IDENTITY), _one(az, T_VAULT)
    deps = server["propertyDependencies"]["dataEncryption"]
    assert key["urn"] in deps and identity["urn"] in deps
    assert identity["urn"] in server["propertyDependencies"]["identity"]
    grant = _one(az, T_GRANT)
    assert grant["inputs"]["roleDefinitionId"] == (
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
        "e147488a-f6f5-4113-8e2d-b22465e65bf6")  # Key Vault Crypto Service Encryption User
    assert identity["urn"] in grant["propertyDependencies"]["principalId"]
    assert key["urn"] in grant["propertyDependencies"]["scope"]
    assert grant["urn"] in server["dependencies"]  # the key is usable before the server starts
    props = vault["inputs"]["properties"]
    assert props["enablePurgeProtection"] is True and props["enableSoftDelete"] is True
    assert props["enableRbacAuthorization"] is True and props["softDeleteRetentionInDays"] == 90
    assert props["publicNetworkAccess"] == "Disabled"
    assert props["networkAcls"] == {"bypass": "AzureServices", "defaultAction": "Deny"}
    k = key["inputs"]["properties"]
    assert (k["kty"], k["keySize"]) == ("RSA-HSM", 4096)
    assert {"action": {"type": "rotate"}, "trigger": {"timeAfterCreate": "P1Y"}} in \
        k["rotationPolicy"]["lifetimeActions"]
    assert vault["urn"] in key["propertyDependencies"]["vaultName"]


def test_ha_backups_and_sizes(az):
    i = _one(az, T_SERVER)["inputs"]
    assert i["highAvailability"] == {"mode": "ZoneRedundant"}
    assert i["backup"] == {"backupRetentionDays": 14, "geoRedundantBackup": "Disabled"}
    assert i["version"] == "17" and i["sku"] == {"name": "Standard_D2ds_v5",
                                                 "tier": "GeneralPurpose"}
    assert i["storage"] == {"storageSizeGB": 64, "autoGrow": "Enabled", "type": "Premium_LRS"}
    single = _one(component_plan(_azure_program(high_availability=False,
                                                backup_retention_days=3)), T_SERVER)["inputs"]
    assert single["highAvailability"] == {"mode": "Disabled"}
    assert single["backup"]["backupRetentionDays"] == 7  # Azure's minimum


def test_geo_redundant_backup_gets_its_own_key_in_the_paired_region():
    plan_ = component_plan(_azure_program(geo_backup_location=PAIR))
    server = _one(plan_, T_SERVER)
    assert server["inputs"]["backup"]["geoRedundantBackup"] == "Enabled"
    vaults = {r["inputs"]["location"]: r for r in resources_of(plan_, T_VAULT)}
    identities = {r["inputs"]["location"]: r for r in resources_of(plan_, T_IDENTITY)}
    assert set(vaults) == set(identities) == {LOC, PAIR}
    geo_key = next(k for k in resources_of(plan_, T_KEY)
                   if vaults[PAIR]["urn"] in k["propertyDependencies"]["vaultName"])
    deps = server["propertyDependencies"]["dataEncryption"]
    assert geo_key["urn"] in deps and identities[PAIR]["urn"] in deps
    assert {identities[LOC]["urn"], identities[PAIR]["urn"]} <= set(
        server["propertyDependencies"]["identity"])
    assert len(resources_of(plan_, T_GRANT)) == 2
    assert all(g["urn"] in server["dependencies"] for g in resources_of(plan_, T_GRANT))


def test_protected_and_locked_only_when_asked(az):
    [lock] = resources_of(az, T_LOCK)
    assert lock["inputs"]["level"] == "CanNotDelete"
    assert _one(az, T_SERVER)["urn"] in lock["propertyDependencies"]["scope"]
    assert all(_one(az, t)["protect"] for t in (T_SERVER, T_DB, T_VAULT, T_KEY))
    # The key's identity and its grant too: without them the server turns Inaccessible.
    assert _one(az, T_IDENTITY)["protect"] and _one(az, T_GRANT)["protect"]
    geo = component_plan(_azure_program(geo_backup_location=PAIR))
    assert [r["protect"] for r in resources_of(geo, T_IDENTITY) + resources_of(geo, T_GRANT)] == [True] * 4
    loose = component_plan(_azure_program(protect=False))
    assert resources_of(loose, T_LOCK) == []
    assert not any(r["protect"] for r in loose["resources"])


def test_database_created_with_owner_login(az):
    db = _one(az, T_DB)["inputs"]
    assert (db["databaseName"], db["charset"]) == ("mlflow", "UTF8")
    # A flexible server runs one operation at a time: the database after the parameter.
    assert _one(az, T_CONFIG)["urn"] in _one(az, T_DB)["dependencies"]
    assert _one(az, T_SERVER)["inputs"]["administratorLogin"] == "mlflow"


def test_azure_password_generated_and_only_ever_secret():
    plan_ = component_plan(_azure_program(), resource_mocks=canary_mocks())
    [pw] = resources_of(plan_, T_PASSWORD)
    assert pw["inputs"]["length"] >= 32
    server = _one(plan_, T_SERVER)
    assert server["inputs"]["administratorLoginPassword"] == "[secret]"
    assert pw["urn"] in server["propertyDependencies"]["administratorLoginPassword"]
    assert CANARY not in json.dumps(plan_)


def test_azure_args_refuse_what_azure_would_refuse():
    with pytest.raises(ValidationError, match="Burstable"):
        _azure_args(sku_name="Standard_B2s")
    with pytest.raises(ValidationError, match="reserved"):
        _azure_args(username="azure_superuser")
    with pytest.raises(ValidationError, match="paired region"):
        _azure_args(geo_backup_location=LOC)
    assert [azpg.storage_size_gb(n) for n in (1, 32, 33, 500, 4096)] == [32, 32, 64, 512, 4096]
    with pytest.raises(ValueError):
        azpg.storage_size_gb(40000)


def test_azure_database_is_policy_clean(az, pack_config):
    # Including the private DNS zone and link at location "global" (global metadata).
    assert _mandatory(az, pack_config) == ([], [])
    for r in az["resources"]:
        if "tags" in r["inputs"]:
            assert set(REQUIRED_TAG_KEYS) <= set(r["inputs"]["tags"]), r["name"]


def test_policy_pack_catches_a_public_unencrypted_server(az, pack_config):
    bad = json.loads(json.dumps(az))
    server = next(r for r in bad["resources"] if r["type"] == T_SERVER)
    server["inputs"]["network"] = {"publicNetworkAccess": "Enabled"}
    server["inputs"]["dataEncryption"] = {"type": "SystemManaged"}
    server["protect"] = False
    violations, _ = _mandatory(bad, pack_config)
    failed = {d.policy_name for d in violations if d.urn == server["urn"]}
    assert {"database-no-public-access", "database-encryption",
            "stateful-resources-protected"} <= failed


# --- Azure workload identity -------------------------------------------------------------------------


def _store_access_program():
    def program():
        provider = azure.Provider(f"azure-{LOC}", location=LOC)
        StoreAccess("mlflow-aks-store", StoreAccessArgs(
            namespace="mlflow", service_account="mlflow-server", tags=TAGS, prefix="hml-prod",
            resource_group_name=RG, location=LOC, oidc_issuer_url=ISSUER,
            storage_account_id=ACCOUNT_ID, container_name="artifacts",
        ), pulumi.ResourceOptions(providers=[provider]))
    return program


@pytest.fixture(scope="module")
def store_access() -> dict:
    return component_plan(_store_access_program())


def test_federated_credential_trusts_exactly_one_service_account(store_access):
    identity = _one(store_access, T_IDENTITY)
    [fic] = resources_of(store_access, "azure-native:managedidentity:FederatedIdentityCredential")
    i = fic["inputs"]
    assert i["issuer"] == ISSUER
    assert i["subject"] == "system:serviceaccount:mlflow:mlflow-server"
    assert i["audiences"] == ["api://AzureADTokenExchange"]
    assert identity["urn"] in fic["propertyDependencies"]["resourceName"]
    assert identity["inputs"]["location"] == LOC


def test_role_is_blob_data_contributor_on_the_container_only(store_access):
    grant = _one(store_access, T_GRANT)["inputs"]
    assert grant["roleDefinitionId"] == (
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
        "ba92f5b4-2d11-453d-a403-e96b0029c9fe")
    assert grant["scope"] == f"{ACCOUNT_ID}/blobServices/default/containers/artifacts"
    assert grant["principalType"] == "ServicePrincipal"
    # No keys of any kind: no secrets, no storage account key listing, no passwords.
    assert not resources_of(store_access, T_PASSWORD)


def test_store_access_is_policy_clean(store_access, pack_config):
    assert _mandatory(store_access, pack_config) == ([], [])


class _AppliedMocks(pulumi.runtime.Mocks):
    """Outputs as after an update: identities have client ids, passwords a (canary) value."""

    def __init__(self):
        self.inputs: dict[str, dict] = {}

    def new_resource(self, args):
        self.inputs[args.name] = dict(args.inputs)
        outs = dict(args.inputs)
        if args.typ == "azure-native:managedidentity:UserAssignedIdentity":
            outs.update(clientId=f"client-{args.name}", principalId=f"principal-{args.name}")
        if args.typ == "azure-native:dbforpostgresql:Server":
            outs["name"] = args.inputs["serverName"]
        if args.typ == T_PASSWORD:
            outs["result"] = CANARY
        if args.typ == "random:index/randomString:RandomString":
            outs["result"] = "a1b2c3"
        return f"{args.name}-id", outs

    def call(self, args):
        raise AssertionError(f"no invokes expected, got {args.token}")


@pytest.fixture
def applied():
    # run_program closes its event loop; the SDK's test runner needs a current one.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    mocks = _AppliedMocks()
    pulumi.runtime.set_mocks(mocks, preview=False)
    yield mocks
    loop.close()


@pulumi.runtime.test
def test_store_access_outputs_for_the_service_account_and_pods(applied):
    access = StoreAccess("store", StoreAccessArgs(
        namespace="mlflow", service_account="mlflow-server", tags=TAGS, prefix="hml-prod",
        resource_group_name=RG, location=LOC, oidc_issuer_url=ISSUER,
        storage_account_id=ACCOUNT_ID, container_name="artifacts"))
    assert access.pod_labels == {"azure.workload.identity/use": "true"}
    assert list(access.service_account_annotations) == ["azure.workload.identity/client-id"]

    def check(client_id):
        assert client_id == "client-store-identity"

    return pulumi.Output.from_input(
        access.service_account_annotations["azure.workload.identity/client-id"]).apply(check)


@pulumi.runtime.test
def test_azure_outputs_follow_the_shared_interface(applied):
    db = PostgresDatabase("db", _azure_args())
    assert (db.database, db.username, db.sslmode) == ("mlflow", "mlflow", "require")

    def check(values):
        host, port, password, secret = values
        assert host == "psql-hml-prod-mlflow-a1b2c3.postgres.database.azure.com"
        assert port == 5432 and password == CANARY and secret

    return pulumi.Output.all(db.host, db.port, db.password, db.password.is_secret()).apply(check)


# --- On-prem CloudNativePG ---------------------------------------------------------------------------


def test_operator_release_uses_the_pinned_chart_in_its_restricted_namespace(onprem):
    release = _one(onprem, T_RELEASE)
    pin = CHARTS["cloudnative-pg"]
    i = release["inputs"]
    assert (i["chart"], i["version"], i["repositoryOpts"]["repo"]) == (
        pin.chart, pin.version, pin.repository)
    assert i["namespace"] == "cnpg-system" and i["createNamespace"] is False
    assert i["values"]["resources"]["limits"] and i["values"]["resources"]["requests"]
    ns = _by_name(onprem, "cnpg-onprem-namespace")
    labels = ns["inputs"]["metadata"]["labels"]
    assert ns["inputs"]["metadata"]["name"] == "cnpg-system"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert ns["urn"] in release["dependencies"]


def test_cluster_spec(onprem):
    cluster = _one(onprem, T_CNPG)
    spec = cluster["inputs"]["spec"]
    assert cluster["inputs"]["metadata"] == {
        "name": "mlflow-postgres", "namespace": "mlflow", "labels": object_labels(TAGS),
        # Created only once CNPG reports it Ready (pulumi-kubernetes waitFor), within 30 min.
        "annotations": {"pulumi.com/waitFor": "condition=Ready", "pulumi.com/timeoutSeconds": "1800"}}
    assert spec["instances"] == 3 and spec["enablePDB"] is True
    assert spec["storage"] == {"size": "50Gi", "storageClass": "encrypted"}
    assert spec["bootstrap"] == {"initdb": {"database": "mlflow", "owner": "mlflow",
                                            "secret": {"name": "mlflow-postgres-credentials"}}}
    assert spec["affinity"]["enablePodAntiAffinity"] is True
    assert spec["affinity"]["podAntiAffinityType"] == "required"
    assert spec["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    assert spec["enableSuperuserAccess"] is False
    inherited = spec["inheritedMetadata"]["labels"]  # onto the pods, volumes, services CNPG makes
    assert {f"hybridml.io/{k}" for k in REQUIRED_TAG_KEYS} <= set(inherited)
    assert "app.kubernetes.io/managed-by" not in inherited
    assert spec["postgresql"]["pg_hba"] == ["hostnossl all all all reject"]
    res = spec["resources"]
    assert res["limits"]["memory"] == res["requests"]["memory"]
    assert "monitoring" not in spec  # enablePodMonitor is deprecated: own PodMonitor instead
    assert "barmanObjectStore" not in spec["backup"]  # deprecated in-tree object store
    assert spec["backup"]["volumeSnapshot"] == {
        "className": "csi-rbdplugin-snapclass", "online": False, "snapshotOwnerReference": "none"}
    assert cluster["protect"] is True
    deps = set(cluster["dependencies"])
    assert _one(onprem, T_SECRET)["urn"] in deps
    assert _one(onprem, T_RELEASE)["urn"] in deps  # the operator's CRDs and webhooks first


def test_scheduled_backup_by_volume_snapshot(onprem):
    backup = _one(onprem, T_BACKUP)["inputs"]
    assert backup["spec"]["method"] == "volumeSnapshot"
    assert backup["spec"]["cluster"] == {"name": "mlflow-postgres"}
    assert backup["spec"]["immediate"] is True
    assert len(backup["spec"]["schedule"].split()) == 6
    assert backup["metadata"]["annotations"]["hybridml.io/backup-retention-days"] == "14"


def test_credentials_secret_is_basic_auth_of_the_owner(onprem):
    secret = _one(onprem, T_SECRET)
    assert secret["inputs"]["type"] == "kubernetes.io/basic-auth"
    assert secret["inputs"]["metadata"]["name"] == "mlflow-postgres-credentials"
    assert secret["inputs"]["stringData"] == "[secret]"  # username and password both
    password = _one(onprem, T_PASSWORD)
    assert password["urn"] in secret["propertyDependencies"]["stringData"]


def test_network_policies_let_only_cnpg_traffic_through(onprem):
    policies = {p["inputs"]["metadata"]["name"]: p["inputs"] for p in resources_of(onprem, T_POLICY)}
    assert set(policies) == {"mlflow-postgres-from-operator", "mlflow-postgres-between-instances",
                             "mlflow-postgres-to-api-server", "mlflow-postgres-from-clients"}
    selector = {"matchLabels": {"cnpg.io/cluster": "mlflow-postgres"}}
    assert all(p["spec"]["podSelector"] == selector and p["metadata"]["namespace"] == "mlflow"
               for p in policies.values())
    tcp = [{"protocol": "TCP", "port": 5432}, {"protocol": "TCP", "port": 8000}]
    [rule] = policies["mlflow-postgres-from-operator"]["spec"]["ingress"]
    assert rule["ports"] == tcp
    assert rule["from"] == [{
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "cnpg-system"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "cloudnative-pg"}}}]
    peers = policies["mlflow-postgres-between-instances"]["spec"]
    assert peers["ingress"] == [{"from": [{"podSelector": selector}], "ports": tcp}]
    assert peers["egress"] == [{"to": [{"podSelector": selector}], "ports": tcp}]
    # Clients: only the pods named, only PostgreSQL.
    assert policies["mlflow-postgres-from-clients"]["spec"]["ingress"] == [{
        "from": [{"podSelector": {"matchLabels": CLIENTS}}],
        "ports": [{"protocol": "TCP", "port": 5432}]}]
    [api] = policies["mlflow-postgres-to-api-server"]["spec"]["egress"]
    assert api["to"] == [{"ipBlock": {"cidr": "10.0.0.0/14"}}]
    assert {p["port"] for p in api["ports"]} == {443, 6443}


def test_pod_monitor_only_with_monitoring(onprem):
    [monitor] = resources_of(onprem, "kubernetes:monitoring.coreos.com/v1:PodMonitor")
    assert monitor["inputs"]["spec"] == {
        "selector": {"matchLabels": {"cnpg.io/cluster": "mlflow-postgres"}},
        "podMetricsEndpoints": [{"port": "metrics"}]}
    assert _by_name(onprem, "monitoring-crds")["urn"] in monitor["dependencies"]
    plain = component_plan(_onprem_program(monitoring=False))
    assert resources_of(plain, "kubernetes:monitoring.coreos.com/v1:PodMonitor") == []


def test_single_instance_without_backups():
    plan_ = component_plan(_onprem_program(instances=1, high_availability=False,
                                           volume_snapshot_class=None, storage_size="20Gi"))
    spec = _one(plan_, T_CNPG)["inputs"]["spec"]
    assert spec["instances"] == 1 and spec["enablePDB"] is False  # a PDB would block drains
    assert spec["affinity"]["podAntiAffinityType"] == "preferred"
    assert spec["storage"]["size"] == "20Gi"
    assert "backup" not in spec and resources_of(plan_, T_BACKUP) == []


def test_onprem_args_refuse_inconsistent_settings():
    operator = pulumi.CustomResource.__new__(pulumi.CustomResource)  # never registered
    with pytest.raises(ValidationError, match="at least 2 instances"):
        _onprem_args(operator, instances=1)
    with pytest.raises(ValidationError, match="everywhere"):
        _onprem_args(operator, api_server_cidrs=("0.0.0.0/0",))
    with pytest.raises(ValidationError, match="six cron fields"):
        _onprem_args(operator, backup_schedule="0 2 * * *")
    with pytest.raises(ValidationError, match="quantity"):
        _onprem_args(operator, storage_size="50 gigs")
    with pytest.raises(ValidationError, match="client_pod_labels"):
        _onprem_args(operator, client_pod_labels={})


def test_onprem_password_generated_and_only_ever_secret():
    plan_ = component_plan(_onprem_program(), resource_mocks=canary_mocks())
    [pw] = resources_of(plan_, T_PASSWORD)
    assert pw["inputs"]["length"] >= 32
    assert _one(plan_, T_SECRET)["inputs"]["stringData"] == "[secret]"
    assert CANARY not in json.dumps(plan_)


def test_onprem_objects_are_schema_valid_and_policy_clean(onprem, pack_config):
    check = validate_objects(kubernetes_objects(onprem), {CLUSTER: "1.32"})
    assert check.errors == [] and check.validated >= 5
    assert _mandatory(onprem, pack_config) == ([], [])


@pulumi.runtime.test
def test_onprem_outputs_follow_the_shared_interface(applied):
    operator = CloudNativePgOperator("cnpg", CloudNativePgOperatorArgs(tags=TAGS))
    db = OnPremPostgres("db", _onprem_args(operator))
    assert (db.database, db.username, db.sslmode) == ("mlflow", "mlflow", "require")
    assert db.ca_secret_name == "mlflow-postgres-ca"

    def check(values):
        host, port, password, secret, creds = values
        assert host == "mlflow-postgres-rw.mlflow.svc" and port == 5432
        assert password == CANARY and secret
        assert creds == "mlflow-postgres-credentials"
        # What CNPG reads for initdb: the owner's name and the generated password, sent to
        # the engine only inside a secret wrapper.
        data = applied.inputs["db-credentials"]["stringData"]
        assert data[SIG_KEY] == SECRET_SIG
        assert data["value"] == {"username": "mlflow", "password": CANARY}

    return pulumi.Output.all(db.host, db.port, db.password, db.password.is_secret(),
                             db.credentials_secret_name).apply(check)
