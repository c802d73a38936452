"""AKS cluster and GPU node pools under the preview mocks: access, identity, keys, pools, policies."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pulumi
import pulumi_azure_native as azure
import pulumi_random as random
import pytest
from pydantic import ValidationError

from components.azure.cluster import KubernetesCluster, KubernetesClusterArgs
from components.azure.cluster_keys import (
    CRYPTO_SERVICE_ENCRYPTION_USER,
    CRYPTO_USER,
    KEY_VAULT_CONTRIBUTOR,
    READER,
)
from components.azure.gpu_pool import GpuNodePool, GpuNodePoolArgs
from components.kubernetes.cluster_spec import ApiAccess, SystemPoolSpec
from components.kubernetes.gpu_pool import GpuPoolSpec
from components.tags import REQUIRED_TAG_KEYS, StandardTags
from stacks.preview.analyzer_client import run_policy_pack
from stacks.preview.offline import PreviewMocks
from tests.conftest import component_plan, resources_of

ROOT = Path(__file__).resolve().parents[3]
TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="internal")
SUB, TENANT = "3f1c2a9e-7b4d-4c1e-9a2f-5d6e7f8a9b0c", "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d"
ADMINS = ("0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d",)
LOC, NAME = "westeurope", "hml-prod-azure-westeurope"
GROUP = f"rg-hml-prod-network-{LOC}"
VNET = (f"/subscriptions/{SUB}/resourceGroups/{GROUP}/providers/Microsoft.Network"
        f"/virtualNetworks/vnet-hml-prod-{LOC}")
NODES, APISERVER = f"{VNET}/subnets/aks-nodes", f"{VNET}/subnets/aks-apiserver"
T_CLUSTER, T_POOL = ("azure-native:containerservice:ManagedCluster",
                     "azure-native:containerservice:AgentPool")
T_GRANT = "azure-native:authorization:RoleAssignment"
T_DES, T_VAULT, T_KEY = ("azure-native:compute:DiskEncryptionSet", "azure-native:keyvault:Vault",
                         "azure-native:keyvault:Key")
GPU_TAINT = "nvidia.com/gpu=true:NoSchedule"

A100 = GpuPoolSpec(target="azure", name="a100", gpu_type="nvidia-a100-80gb", gpu_count=1,
                   machine_type="Standard_NC24ads_A100_v4", min_size=0, max_size=4,
                   mig_profile="3g.40gb")
T4_SPOT = GpuPoolSpec(target="azure", name="t4spot", gpu_type="nvidia-t4", gpu_count=1,
                      machine_type="Standard_NC4as_T4_v3", min_size=1, max_size=6, spot=True,
                      time_slicing_replicas=4, disk_size_gb=128)


def _args(**kw) -> KubernetesClusterArgs:
    fields = dict(
        prefix="hml-prod", cluster_name=NAME, subscription_id=SUB, tenant_id=TENANT, location=LOC,
        kubernetes_version="1.33", tags=TAGS, protect=True, resource_group_name=GROUP,
        node_subnet_id=NODES, api_server_subnet_id=APISERVER, pod_cidr="192.168.0.0/16",
        service_cidr="10.96.0.0/16", dns_service_ip="10.96.0.10", admin_group_object_ids=ADMINS,
        api_access=ApiAccess(mode="private", admin_cidrs=("10.0.0.0/14",)),
        system_pool=SystemPoolSpec(machine_type="Standard_D4ds_v5", min_size=2, max_size=5),
        gpu_pools=(A100, T4_SPOT),
    )
    return KubernetesClusterArgs(**{**fields, **kw})


def _program(args: KubernetesClusterArgs, built: dict | None = None):
    def program():
        providers = [azure.Provider(f"azure-{LOC}", location=LOC), random.Provider("random")]
        cluster = KubernetesCluster(f"aks-{LOC}", args, pulumi.ResourceOptions(providers=providers))
        if built is not None:
            built["cluster"] = cluster
    return program


def _one(plan_: dict, token: str) -> dict:
    [resource] = resources_of(plan_, token)
    return resource


@pytest.fixture(scope="module")
def built_run() -> tuple[dict, KubernetesCluster]:
    keep: dict = {}
    plan_ = component_plan(_program(_args(), keep))
    return plan_, keep["cluster"]


@pytest.fixture(scope="module")
def built(built_run) -> dict:
    return built_run[0]


@pytest.fixture(scope="module")
def restricted() -> dict:
    access = ApiAccess(mode="restricted", public_cidrs=("203.0.113.0/24", "198.51.100.7/32"))
    return component_plan(_program(_args(api_access=access, protect=False, gpu_pools=())))


def _pools(plan_: dict) -> dict[str, dict]:
    return {p["inputs"]["agentPoolName"]: p["inputs"] for p in resources_of(plan_, T_POOL)}


# --- GPU node pools ---------------------------------------------------------------------------------

def test_gpu_pools_carry_exactly_the_agreed_labels_and_taint(built):
    pools = _pools(built)
    assert set(pools) == {"a100", "t4spot"}
    assert pools["a100"]["nodeLabels"] == {
        "nvidia.com/gpu.present": "true", "hybridml.io/gpu-type": "nvidia-a100-80gb",
        "hybridml.io/gpu-pool": "a100", "nvidia.com/mig.config": "all-3g.40gb"}
    assert pools["t4spot"]["nodeLabels"] == {
        "nvidia.com/gpu.present": "true", "hybridml.io/gpu-type": "nvidia-t4",
        "hybridml.io/gpu-pool": "t4spot", "nvidia.com/device-plugin.config": "t4spot"}
    assert all(p["nodeTaints"] == [GPU_TAINT] for p in pools.values())
    # MIG comes from the GPU operator's label, never from AKS's own GPU instance profile
    assert all("gpuInstanceProfile" not in p for p in pools.values())


def test_gpu_pools_are_n_series_user_pools_in_the_cluster(built):
    cluster = _one(built, T_CLUSTER)
    for pool in resources_of(built, T_POOL):
        i = pool["inputs"]
        assert i["mode"] == "User" and i["vmSize"].startswith(("Standard_NC", "Standard_ND"))
        assert (i["resourceName"], i["resourceGroupName"]) == (NAME, GROUP)
        assert i["vnetSubnetID"] == NODES and i["orchestratorVersion"] == "1.33"
        assert cluster["urn"] in pool["dependencies"]  # created after the cluster
    assert _pools(built)["a100"]["vmSize"] == "Standard_NC24ads_A100_v4"


def test_gpu_pools_autoscale_within_bounds_and_encrypt_at_host(built):
    pools = _pools(built)
    assert (pools["a100"]["minCount"], pools["a100"]["maxCount"], pools["a100"]["count"]) == (0, 4, 0)
    assert (pools["t4spot"]["minCount"], pools["t4spot"]["maxCount"]) == (1, 6)
    for p in pools.values():
        assert p["enableAutoScaling"] is True and p["enableEncryptionAtHost"] is True
        assert p["osDiskType"] == "Managed" and p["availabilityZones"] == ["1", "2", "3"]
    assert pools["t4spot"]["osDiskSizeGB"] == 128


def test_gpu_driver_install_skipped_for_the_gpu_operator(built):
    assert all(p["gpuProfile"] == {"driver": "None"} for p in _pools(built).values())


def test_spot_only_where_asked(built):
    pools = _pools(built)
    spot = pools["t4spot"]
    assert (spot["scaleSetPriority"], spot["scaleSetEvictionPolicy"], spot["spotMaxPrice"]) == (
        "Spot", "Delete", -1)
    assert pools["a100"]["scaleSetPriority"] == "Regular"
    assert "spotMaxPrice" not in pools["a100"]


@pytest.fixture
def applied():
    """Mocks as after an update, with the credentials invoke answered."""
    # run_program closes its event loop; the SDK's test runner needs a current one.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(_CredentialMocks(), preview=False)
    yield
    loop.close()


@pulumi.runtime.test
def test_gpu_pool_outputs_in_kubernetes_spelling(applied):
    pool = GpuNodePool("gpu", GpuNodePoolArgs(pool=T4_SPOT, resource_group_name=GROUP,
                                              cluster_name=NAME, vnet_subnet_id=NODES,
                                              kubernetes_version="1.33", tags=TAGS))
    assert pool.pool_name == "t4spot"
    assert pool.labels["hybridml.io/gpu-pool"] == "t4spot"
    assert pool.taints == [
        {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},
        {"key": "kubernetes.azure.com/scalesetpriority", "value": "spot", "effect": "NoSchedule"}]
    return pool.agent_pool_name.apply(lambda n: _expect(n, "t4spot"))


def _expect(value, wanted):
    assert value == wanted


class _EchoMocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        # Azure names a resource by its name input (agent pools by the pool's name).
        named = args.inputs.get("agentPoolName") or args.inputs.get("resourceName") or args.name
        outputs = {**args.inputs, "name": named}
        if "identity" in outputs:  # identities: a list in, a map out
            outputs["identity"] = {"type": outputs["identity"]["type"]}
        if args.typ == "random:index/randomString:RandomString":
            outputs["result"] = "abc123"
        return f"{args.name}-id", outputs

    def call(self, args):
        raise AssertionError(f"no invokes expected, got {args.token}")


def test_bad_gpu_configs_name_what_is_allowed():
    with pytest.raises(ValidationError, match="Standard_NC24ads_A100_v4"):
        GpuPoolSpec(target="azure", name="bad", gpu_type="nvidia-a100-80gb", gpu_count=1,
                    machine_type="Standard_NC4as_T4_v3")
    with pytest.raises(ValidationError, match="gpu types on azure: .*nvidia-t4"):
        GpuPoolSpec(target="azure", name="bad", gpu_type="nvidia-l4", gpu_count=1,
                    machine_type="g6.xlarge")
    aws = GpuPoolSpec(target="aws", name="g6", gpu_type="nvidia-l4", gpu_count=1,
                      machine_type="g6.xlarge")
    with pytest.raises(ValidationError, match="targets aws; allowed here: target azure"):
        _args(gpu_pools=(aws,))
    with pytest.raises(ValidationError, match="targets aws; allowed here: target azure"):
        GpuNodePoolArgs(pool=aws, resource_group_name=GROUP, cluster_name=NAME,
                        vnet_subnet_id=NODES, kubernetes_version="1.33", tags=TAGS)
    with pytest.raises(ValidationError, match="'a100' is used twice"):
        _args(gpu_pools=(A100, A100))
    with pytest.raises(ValidationError, match="'system' is the system pool's"):
        _args(gpu_pools=(A100.model_copy(update={"name": "system"}),))


def test_cluster_args_reject_incoherent_networks():
    with pytest.raises(ValidationError, match="DNS service IP"):
        _args(dns_service_ip="10.97.0.10")
    with pytest.raises(ValidationError, match="overlaps"):
        _args(pod_cidr="10.96.0.0/12")
    with pytest.raises(ValidationError, match="not a private range"):
        _args(service_cidr="8.8.0.0/16", dns_service_ip="8.8.0.10")
    with pytest.raises(ValidationError):
        _args(admin_group_object_ids=())


# --- The cluster ------------------------------------------------------------------------------------

def test_private_cluster_has_no_public_endpoint(built):
    api = _one(built, T_CLUSTER)["inputs"]["apiServerAccessProfile"]
    # Private API address only; the public DNS name (resolving to it) lets on-prem find it.
    assert api["enablePrivateCluster"] is True and api["enablePrivateClusterPublicFQDN"] is True
    assert "authorizedIPRanges" not in api
    assert (api["enableVnetIntegration"], api["subnetId"]) == (True, APISERVER)


def test_restricted_cluster_only_to_public_cidrs(restricted):
    api = _one(restricted, T_CLUSTER)["inputs"]["apiServerAccessProfile"]
    assert api["enablePrivateCluster"] is False
    assert api["authorizedIPRanges"] == ["203.0.113.0/24", "198.51.100.7/32"]
    assert "0.0.0.0/0" not in api["authorizedIPRanges"]


def test_oidc_issuer_and_workload_identity(built):
    i = _one(built, T_CLUSTER)["inputs"]
    assert i["oidcIssuerProfile"] == {"enabled": True}
    assert i["securityProfile"]["workloadIdentity"] == {"enabled": True}


def test_entra_id_with_azure_rbac_and_no_local_accounts(built):
    i = _one(built, T_CLUSTER)["inputs"]
    assert i["aadProfile"] == {"managed": True, "enableAzureRBAC": True,
                               "adminGroupObjectIDs": list(ADMINS), "tenantID": TENANT}
    assert i["disableLocalAccounts"] is True and i["enableRBAC"] is True


def test_control_plane_identity_is_user_assigned(built):
    cluster = _one(built, T_CLUSTER)
    assert cluster["inputs"]["identity"]["type"] == "UserAssigned"
    identity = next(r for r in built["resources"] if r["name"] == f"aks-{LOC}-identity")
    assert identity["urn"] in cluster["propertyDependencies"]["identity"]


def test_disks_encrypted_at_host_and_with_the_customer_key(built):
    cluster = _one(built, T_CLUSTER)
    [system] = cluster["inputs"]["agentPoolProfiles"]
    assert (system["name"], system["mode"], system["vmSize"]) == ("system", "System", "Standard_D4ds_v5")
    assert system["enableEncryptionAtHost"] is True and system["osDiskType"] == "Managed"
    assert (system["minCount"], system["maxCount"], system["enableAutoScaling"]) == (2, 5, True)
    assert system["vnetSubnetID"] == NODES and system["availabilityZones"] == ["1", "2", "3"]
    assert "nodeTaints" not in system  # add-ons run on the system pool
    des = _one(built, T_DES)
    assert des["urn"] in cluster["propertyDependencies"]["diskEncryptionSetID"]
    d = des["inputs"]
    assert d["encryptionType"] == "EncryptionAtRestWithCustomerKey"
    assert d["rotationToLatestKeyVersionEnabled"] is True and d["identity"]["type"] == "UserAssigned"


def test_kms_etcd_encryption_with_a_private_vault(built):
    cluster = _one(built, T_CLUSTER)
    kms = cluster["inputs"]["securityProfile"]["azureKeyVaultKms"]
    assert kms["enabled"] is True and kms["keyVaultNetworkAccess"] == "Private"
    deps = cluster["propertyDependencies"]["securityProfile"]
    kms_key = next(k for k in resources_of(built, T_KEY) if k["inputs"]["keyName"] == "etcd-kms")
    assert kms_key["urn"] in deps and _one(built, T_VAULT)["urn"] in deps
    vault = _one(built, T_VAULT)["inputs"]["properties"]
    assert vault["enableRbacAuthorization"] is True and vault["enablePurgeProtection"] is True
    assert vault["networkAcls"] == {"bypass": "AzureServices", "defaultAction": "Deny"}
    assert vault["publicNetworkAccess"] == "Disabled"


def test_grants_exist_before_the_cluster(built):
    cluster = _one(built, T_CLUSTER)
    grants = {r["urn"]: r for r in resources_of(built, T_GRANT)}
    before = [grants[u] for u in cluster["dependencies"] if u in grants]
    roles = sorted((g["inputs"]["roleDefinitionId"].rsplit("/", 1)[1], g["inputs"]["scope"])
                   for g in before if g["inputs"]["scope"].startswith("/subscriptions/"))
    assert roles == sorted([("4d97b98b-1d4f-4787-a291-c67834d212e7", NODES),
                            ("4d97b98b-1d4f-4787-a291-c67834d212e7", APISERVER)])
    by_role = {g["inputs"]["roleDefinitionId"].rsplit("/", 1)[1] for g in before}
    assert {READER, CRYPTO_USER, KEY_VAULT_CONTRIBUTOR} <= by_role
    des = _one(built, T_DES)
    des_grants = [grants[u] for u in des["dependencies"] if u in grants]
    assert [g["inputs"]["roleDefinitionId"].rsplit("/", 1)[1] for g in des_grants] == [
        CRYPTO_SERVICE_ENCRYPTION_USER]


def test_cilium_overlay_network(built):
    n = _one(built, T_CLUSTER)["inputs"]["networkProfile"]
    assert (n["networkPlugin"], n["networkPluginMode"], n["networkDataplane"], n["networkPolicy"]) == (
        "azure", "overlay", "cilium", "cilium")
    assert (n["podCidr"], n["serviceCidr"], n["dnsServiceIP"], n["outboundType"]) == (
        "192.168.0.0/16", "10.96.0.0/16", "10.96.0.10", "loadBalancer")


def test_upgrades_and_tier(built):
    i = _one(built, T_CLUSTER)["inputs"]
    assert i["autoUpgradeProfile"] == {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}
    assert i["sku"] == {"name": "Base", "tier": "Standard"} and i["kubernetesVersion"] == "1.33"


def test_provider_identifies_the_cluster_and_gets_a_secret_kubeconfig(built):
    [provider] = resources_of(built, "pulumi:providers:kubernetes")
    i = provider["inputs"]
    assert i["clusterIdentifier"] == NAME and i["enableServerSideApply"] == "true"
    # Secret, and unknown at preview: the credentials invoke waits for the new cluster (the
    # preview's engine stand-in raises on any invoke that reaches it, and `built` ran cleanly).
    assert i["kubeconfig"] == "[secret]"
    assert _one(built, T_CLUSTER)["urn"] in provider["dependencies"]


def test_no_invoke_reaches_the_engine_at_preview():
    calls: list[str] = []

    class Counting(PreviewMocks):
        def call(self, args):
            calls.append(args.token)
            return super().call(args)

    component_plan(_program(_args(gpu_pools=())), resource_mocks=Counting())
    assert calls == []


@pulumi.runtime.test
def test_kubeconfig_is_secret_and_decoded(applied):
    cluster = KubernetesCluster("aks", _args(gpu_pools=()))
    def check(values):
        config, secret = values
        assert secret is True and config.startswith("apiVersion: v1")
    return pulumi.Output.all(cluster.kubeconfig, cluster.kubeconfig.is_secret()).apply(check)


class _CredentialMocks(_EchoMocks):
    def call(self, args):
        assert args.token == "azure-native:containerservice:listManagedClusterUserCredentials"
        assert args.args["format"] == "exec" and args.args["resourceName"] == NAME
        value = base64.b64encode(b"apiVersion: v1\nkind: Config\n").decode()
        return {"kubeconfigs": [{"name": "clusterUser", "value": value}]}, []


def test_keys_and_disk_encryption_set_protected(built, restricted):
    stateful = (T_VAULT, T_KEY, T_DES)
    assert all(r["protect"] for r in built["resources"] if r["type"] in stateful)
    assert len([r for r in built["resources"] if r["type"] in stateful]) == 4
    assert not any(r["protect"] for r in restricted["resources"])
    kms = next(k for k in resources_of(built, T_KEY) if k["inputs"]["keyName"] == "etcd-kms")
    # AKS pins the KMS key version: an expiring version would stop the API server
    assert "attributes" not in kms["inputs"]["properties"]["rotationPolicy"]


def test_every_taggable_resource_tagged(built):
    for r in built["resources"]:
        if "tags" in r["inputs"]:
            assert set(REQUIRED_TAG_KEYS) <= set(r["inputs"]["tags"]), r["name"]
    assert "tags" in _one(built, T_CLUSTER)["inputs"] and all(
        "tags" in p["inputs"] for p in resources_of(built, T_POOL))


def test_storage_class_uses_the_disk_encryption_set(built_run):
    sc = built_run[1].storage_class
    assert sc.provisioner == "disk.csi.azure.com"
    assert (sc.parameters["skuName"], sc.parameters["networkAccessPolicy"]) == ("Premium_ZRS", "DenyAll")
    assert isinstance(sc.parameters["diskEncryptionSetID"], pulumi.Output)
    assert set(built_run[1].gpu_pools) == {"a100", "t4spot"}


@pytest.fixture(scope="module")
def pack_config() -> dict:
    return json.loads((ROOT / "policies/config.prod.json").read_text())


@pytest.mark.parametrize("plan_name", ["built", "restricted"])
def test_policy_pack_finds_no_mandatory_violation(plan_name, request, pack_config):
    plan_ = request.getfixturevalue(plan_name)
    if plan_name == "restricted":  # unprotected on purpose; everything else must pass
        pack_config = {**pack_config, "stateful-resources-protected": {"environment": "dev"}}
    res = run_policy_pack(ROOT / "policies", plan_["resources"], pack_config,
                          analyze_all_resources=True)
    assert [d for d in res.diagnostics if d.enforcement_level == "mandatory"] == []
    assert not [u for u in res.undecided if u.enforcement_level == "mandatory"], res.undecided


def test_policy_pack_rejects_a_public_api_server(restricted, pack_config):
    bad = json.loads(json.dumps(restricted))
    cluster = _one(bad, T_CLUSTER)
    cluster["inputs"]["apiServerAccessProfile"]["authorizedIPRanges"] = ["0.0.0.0/0"]
    res = run_policy_pack(ROOT / "policies", bad["resources"], pack_config,
                          analyze_all_resources=True)
    failed = {(d.policy_name, d.urn) for d in res.diagnostics if d.enforcement_level == "mandatory"}
    assert ("kubernetes-api-not-public", cluster["urn"]) in failed


AKS_EXEC_KUBECONFIG = """
apiVersion: v1
kind: Config
clusters:
- name: aks
  cluster: {server: "https://aks.example:443", certificate-authority-data: Q0E=}
users:
- name: clusterUser
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --login, devicecode, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630,
             --client-id, 80faf920-1908-4b52-b5ef-a8e7bedfc67a, --environment, AzurePublicCloud]
"""


def test_kubeconfig_logs_in_with_the_azure_cli_not_a_device_code():
    """`pulumi up` in CI cannot answer a device-code prompt: the provider uses `az login`."""
    import yaml

    from components.azure.cluster import exec_with_cli_login

    doc = yaml.safe_load(exec_with_cli_login(AKS_EXEC_KUBECONFIG))
    [user] = doc["users"]
    assert user["user"]["exec"]["args"] == [
        "get-token", "--login", "azurecli", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"]
    assert doc["clusters"][0]["cluster"]["server"] == "https://aks.example:443"
