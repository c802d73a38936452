"""GKE cluster and GPU node pools under the SDK mocks: access, encryption, identity, GPU
convention, validation, kubeconfig and the policy pack."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pulumi
import pulumi_gcp as gcp
import pytest
from pydantic import ValidationError

from components.gcp.cluster import (
    NODE_ROLES,
    KubernetesCluster,
    KubernetesClusterArgs,
    node_account_id,
)
from components.gcp.cluster_kms import ENCRYPTER_DECRYPTER
from components.gcp.gpu_pool import GpuNodePoolArgs
from components.kubernetes.cluster_spec import ApiAccess, SystemPoolSpec
from components.kubernetes.gpu_pool import GpuPoolSpec
from components.tags import REQUIRED_TAG_KEYS, StandardTags
from stacks.preview.analyzer_client import run_policy_pack
from tests.conftest import component_plan, resources_of

ROOT = Path(__file__).resolve().parents[3]
TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="confidential")
PROJECT, NUMBER, REGION = "hml-prod-gke", "123456789012", "europe-west4"
CLUSTER_NAME = "hml-prod-gcp-europe-west4"
ADMIN = ("10.0.0.0/14",)
T_CLUSTER, T_POOL = "gcp:container/cluster:Cluster", "gcp:container/nodePool:NodePool"
T_GRANT = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"

L4 = GpuPoolSpec(target="gcp", name="l4", gpu_type="nvidia-l4", gpu_count=1,
                 machine_type="g2-standard-8", max_size=4, spot=True, time_slicing_replicas=4)
T4 = GpuPoolSpec(target="gcp", name="t4", gpu_type="nvidia-t4", gpu_count=2,
                 machine_type="n1-standard-16", min_size=1, max_size=2)
A100 = GpuPoolSpec(target="gcp", name="a100", gpu_type="nvidia-a100-40gb", gpu_count=1,
                   machine_type="a2-highgpu-1g", max_size=2, mig_profile="1g.5gb")
POOLS = (L4, T4, A100)
AGREED_LABELS = {"nvidia.com/gpu.present", "hybridml.io/gpu-type", "hybridml.io/gpu-pool"}


def _args(**over) -> KubernetesClusterArgs:
    fields = {
        "prefix": "hml-prod", "cluster_name": CLUSTER_NAME, "project": PROJECT,
        "project_number": NUMBER, "region": REGION, "kubernetes_version": "1.33",
        "release_channel": "REGULAR", "tags": TAGS, "protect": True,
        "network_self_link": "projects/hml-prod-gke/global/networks/hml-prod-vpc",
        "subnet_self_link": "projects/hml-prod-gke/regions/europe-west4/subnetworks/hml-prod-ew4",
        "api_access": ApiAccess(mode="private", admin_cidrs=ADMIN),
        "system_pool": SystemPoolSpec(machine_type="e2-standard-4"), "gpu_pools": POOLS,
        "gpu_zones": {"a100": ("europe-west4-a", "europe-west4-b")},
    }
    return KubernetesClusterArgs(**{**fields, **over})


def _program(**over):
    def program() -> None:
        provider = gcp.Provider("gcp-europe-west4", project=PROJECT, region=REGION)
        KubernetesCluster("gke", _args(**over), pulumi.ResourceOptions(providers=[provider]))
    return program


def _by_name(plan: dict) -> dict[str, dict]:
    return {r["name"]: r for r in plan["resources"]}


def _gpu_pools(plan: dict) -> dict[str, dict]:
    return {r["inputs"]["name"]: r["inputs"] for r in resources_of(plan, T_POOL)
            if r["inputs"]["name"].startswith("gpu-")}


@pytest.fixture(scope="module")
def plan() -> dict:
    return component_plan(_program())  # also asserts: no deprecation or other warnings


@pytest.fixture(scope="module")
def cluster(plan) -> dict:
    [c] = resources_of(plan, T_CLUSTER)
    return c


# --- GPU pools -------------------------------------------------------------------------------

def test_gpu_pools_carry_exactly_the_agreed_labels_and_taint(plan):
    pools = _gpu_pools(plan)
    assert set(pools) == {"gpu-l4", "gpu-t4", "gpu-a100"}
    for spec in POOLS:
        cfg = pools[f"gpu-{spec.name}"]["nodeConfig"]
        assert cfg["labels"] == {"nvidia.com/gpu.present": "true",
                                 "hybridml.io/gpu-type": spec.gpu_type,
                                 "hybridml.io/gpu-pool": spec.name}
        # GKE taints GPU nodes itself (nvidia.com/gpu=present:NoSchedule) and refuses a second
        # taint with that key and effect, so the pool must not ask for one...
        assert "taints" not in cfg
    # ...and GKE only does so when a non-GPU pool exists first.
    system = next(r for r in plan["resources"] if r["type"] == "gcp:container/nodePool:NodePool"
                  and r["inputs"]["name"] == "system")
    for r in plan["resources"]:
        if r["type"] == "gcp:container/nodePool:NodePool" and r["inputs"]["name"].startswith("gpu-"):
            assert system["urn"] in r["dependencies"]


@pytest.mark.parametrize(("spec", "accelerator"), [
    (L4, "nvidia-l4"), (T4, "nvidia-tesla-t4"), (A100, "nvidia-tesla-a100")])
def test_accelerator_string_count_and_managed_driver(plan, spec, accelerator):
    cfg = _gpu_pools(plan)[f"gpu-{spec.name}"]["nodeConfig"]
    assert cfg["machineType"] == spec.machine_type
    [acc] = cfg["guestAccelerators"]
    assert (acc["type"], acc["count"]) == (accelerator, spec.gpu_count)
    assert acc["gpuDriverInstallationConfig"] == {"gpuDriverVersion": "LATEST"}


def test_mig_partitions_and_time_sharing_only_where_configured(plan):
    pools = _gpu_pools(plan)
    [a100] = pools["gpu-a100"]["nodeConfig"]["guestAccelerators"]
    assert a100["gpuPartitionSize"] == "1g.5gb" and "gpuSharingConfig" not in a100
    [l4] = pools["gpu-l4"]["nodeConfig"]["guestAccelerators"]
    assert l4["gpuSharingConfig"] == {"gpuSharingStrategy": "TIME_SHARING",
                                      "maxSharedClientsPerGpu": 4}
    assert "gpuPartitionSize" not in l4
    [t4] = pools["gpu-t4"]["nodeConfig"]["guestAccelerators"]
    assert "gpuPartitionSize" not in t4 and "gpuSharingConfig" not in t4


def test_spot_autoscaling_totals_and_zones(plan):
    pools = _gpu_pools(plan)
    assert pools["gpu-l4"]["nodeConfig"]["spot"] is True
    assert pools["gpu-t4"]["nodeConfig"]["spot"] is False
    assert pools["gpu-l4"]["autoscaling"] == {"totalMinNodeCount": 0, "totalMaxNodeCount": 4,
                                              "locationPolicy": "ANY"}
    assert pools["gpu-t4"]["autoscaling"]["locationPolicy"] == "BALANCED"
    # min 1 over the default three zones: one node per zone at creation reaches the minimum.
    assert pools["gpu-t4"]["initialNodeCount"] == 1 and pools["gpu-l4"]["initialNodeCount"] == 0
    assert pools["gpu-a100"]["nodeLocations"] == ["europe-west4-a", "europe-west4-b"]
    assert "nodeLocations" not in pools["gpu-l4"]


def test_every_pool_is_hardened_and_uses_the_node_account_and_key(plan):
    names = _by_name(plan)
    account = names["gke-nodes"]["urn"]
    disk_grant = names["gke-key-compute-agent"]["urn"]
    cluster_urn = names["gke-cluster"]["urn"]
    pools = resources_of(plan, T_POOL)
    assert len(pools) == 1 + len(POOLS)
    for pool in pools:
        cfg = pool["inputs"]["nodeConfig"]
        assert cfg["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
        assert cfg["shieldedInstanceConfig"] == {"enableSecureBoot": True,
                                                 "enableIntegrityMonitoring": True}
        assert cfg["oauthScopes"] == ["https://www.googleapis.com/auth/cloud-platform"]
        assert cfg["imageType"] == "COS_CONTAINERD"
        assert set(REQUIRED_TAG_KEYS) <= set(cfg["resourceLabels"])
        # Boot disk key and service account come from the grant and the account: ordered after.
        assert {account, disk_grant} <= set(pool["propertyDependencies"]["nodeConfig"])
        assert pool["propertyDependencies"]["cluster"] == [cluster_urn]
        assert pool["inputs"]["management"] == {"autoRepair": True, "autoUpgrade": True}
        assert "version" not in pool["inputs"]  # nodes follow the control plane
        assert pool["inputs"]["location"] == REGION


def test_system_pool_is_untainted_and_scales_within_its_spec(plan):
    [system] = [r["inputs"] for r in resources_of(plan, T_POOL) if r["inputs"]["name"] == "system"]
    assert system["autoscaling"]["totalMinNodeCount"] == 2
    assert system["autoscaling"]["totalMaxNodeCount"] == 4
    assert "taints" not in system["nodeConfig"] and "guestAccelerators" not in system["nodeConfig"]
    assert system["nodeConfig"]["machineType"] == "e2-standard-4"
    assert system["nodeConfig"]["diskSizeGb"] == 100


@pytest.mark.parametrize(("bad", "allowed"), [
    ({"gpu_type": "nvidia-a10g", "machine_type": "g2-standard-8"},
     "gpu types on gcp: nvidia-t4, nvidia-l4"),
    ({"gpu_type": "nvidia-t4", "gpu_count": 3, "machine_type": "n1-standard-4"},
     "takes 1, 2 or 4 x nvidia-t4"),
    ({"gpu_type": "nvidia-l4", "machine_type": "a2-highgpu-1g"}, "machine types with nvidia-l4"),
    ({"gpu_type": "nvidia-l4", "machine_type": "g2-standard-8", "mig_profile": "1g.5gb"},
     "MIG-capable gpu types on gcp"),
    ({"gpu_type": "nvidia-l4", "machine_type": "g2-standard-8", "time_slicing_replicas": 64},
     "at most 48 on gcp"),
])
def test_bad_gpu_configs_name_what_is_allowed(bad, allowed):
    with pytest.raises(ValidationError, match=allowed):
        GpuPoolSpec(**{"target": "gcp", "name": "bad", "gpu_count": 1, **bad})


def test_gke_rejects_mig_sizes_it_does_not_offer():
    spec = GpuPoolSpec(target="gcp", name="a100", gpu_type="nvidia-a100-40gb", gpu_count=1,
                       machine_type="a2-highgpu-1g", mig_profile="4g.20gb")  # valid for NVIDIA
    with pytest.raises(ValidationError, match="allowed: 1g.5gb, 2g.10gb, 3g.20gb, 7g.40gb"):
        GpuNodePoolArgs(pool=spec, project=PROJECT, cluster_id="c", location=REGION,
                        node_service_account_email="sa", kms_key_id="k", tags=TAGS)


def test_cluster_args_reject_foreign_pools_and_zones():
    aws = GpuPoolSpec(target="aws", name="l4", gpu_type="nvidia-l4", gpu_count=1,
                      machine_type="g6.xlarge")
    with pytest.raises(ValidationError, match="targets aws; allowed here: target gcp"):
        _args(gpu_pools=(aws,), gpu_zones={})
    with pytest.raises(ValidationError, match="not a zone of europe-west4"):
        _args(gpu_zones={"a100": ("europe-west1-b",)})
    with pytest.raises(ValidationError, match="not a gpu pool"):
        _args(gpu_zones={"h100": ("europe-west4-b",)})
    with pytest.raises(ValidationError, match="used twice"):
        _args(gpu_pools=(L4, L4), gpu_zones={})


# --- Cluster ---------------------------------------------------------------------------------

def test_private_nodes_and_private_endpoint_in_private_mode(cluster):
    i = cluster["inputs"]
    assert i["privateClusterConfig"] == {"enablePrivateNodes": True, "enablePrivateEndpoint": True}
    assert "masterIpv4CidrBlock" not in i["privateClusterConfig"]  # PSC control plane
    nets = i["masterAuthorizedNetworksConfig"]
    assert [b["cidrBlock"] for b in nets["cidrBlocks"]] == list(ADMIN)
    assert nets["gcpPublicCidrsAccessEnabled"] is False
    assert nets["privateEndpointEnforcementEnabled"] is True
    assert i["ipAllocationPolicy"] == {"clusterSecondaryRangeName": "pods",
                                       "servicesSecondaryRangeName": "services"}
    assert i["networkingMode"] == "VPC_NATIVE"
    assert i["removeDefaultNodePool"] is True and i["initialNodeCount"] == 1
    assert "nodeConfig" not in i


def test_restricted_mode_opens_only_the_listed_public_ranges():
    access = ApiAccess(mode="restricted", admin_cidrs=ADMIN, public_cidrs=("203.0.113.0/24",))
    [c] = resources_of(component_plan(_program(api_access=access)), T_CLUSTER)
    assert c["inputs"]["privateClusterConfig"]["enablePrivateEndpoint"] is False
    assert c["inputs"]["privateClusterConfig"]["enablePrivateNodes"] is True
    blocks = [b["cidrBlock"] for b in c["inputs"]["masterAuthorizedNetworksConfig"]["cidrBlocks"]]
    assert blocks == ["10.0.0.0/14", "203.0.113.0/24"]


@pytest.mark.parametrize(("access", "message"), [
    ({"mode": "restricted", "admin_cidrs": ADMIN, "public_cidrs": ("0.0.0.0/0",)},
     "whole internet"),
    ({"mode": "private", "admin_cidrs": ("0.0.0.0/0",)}, "whole internet"),
    ({"mode": "private", "admin_cidrs": ADMIN, "public_cidrs": ("203.0.113.0/24",)},
     "public_cidrs only with restricted"),
    ({"mode": "private"}, "reachable by nobody"),
    ({"mode": "private", "admin_cidrs": ("10.0.0.1/8",)}, "not an IPv4 network"),
])
def test_api_access_never_opens_to_everyone(access, message):
    # ApiAccess refuses some of these itself, the cluster args the rest: both before any resource.
    with pytest.raises(ValidationError, match=message):
        _args(api_access=ApiAccess(**access))


def test_identity_shielded_nodes_dataplane_v2_and_channel(cluster):
    i = cluster["inputs"]
    assert i["workloadIdentityConfig"] == {"workloadPool": f"{PROJECT}.svc.id.goog"}
    assert i["enableShieldedNodes"] is True
    assert i["datapathProvider"] == "ADVANCED_DATAPATH"
    assert "networkPolicy" not in i  # Dataplane V2 enforces NetworkPolicy itself
    assert i["releaseChannel"] == {"channel": "REGULAR"}
    assert i["minMasterVersion"] == "1.33"
    assert (i["location"], i["name"]) == (REGION, CLUSTER_NAME)
    assert set(REQUIRED_TAG_KEYS) <= set(i["resourceLabels"])


def test_gpu_metrics_and_logs(cluster):
    i = cluster["inputs"]
    assert {"SYSTEM_COMPONENTS", "DCGM"} <= set(i["monitoringConfig"]["enableComponents"])
    assert i["monitoringConfig"]["managedPrometheus"] == {"enabled": True}
    assert {"SYSTEM_COMPONENTS", "WORKLOADS"} <= set(i["loggingConfig"]["enableComponents"])


def test_secrets_encrypted_with_the_cluster_key_after_the_agent_may_use_it(plan, cluster):
    names = _by_name(plan)
    assert cluster["inputs"]["databaseEncryption"]["state"] == "ENCRYPTED"
    gke_grant = names["gke-key-gke-agent"]
    assert cluster["propertyDependencies"]["databaseEncryption"] == [gke_grant["urn"]]
    assert gke_grant["propertyDependencies"]["cryptoKeyId"] == [names["gke-key"]["urn"]]


def test_key_grants_go_to_the_service_agents_only(plan):
    members = {g["name"]: (g["inputs"]["member"], g["inputs"]["role"])
               for g in resources_of(plan, T_GRANT)}
    assert members == {
        "gke-key-gke-agent": (
            f"serviceAccount:service-{NUMBER}@container-engine-robot.iam.gserviceaccount.com",
            ENCRYPTER_DECRYPTER),
        "gke-key-compute-agent": (
            f"serviceAccount:service-{NUMBER}@compute-system.iam.gserviceaccount.com",
            ENCRYPTER_DECRYPTER),
    }


def test_key_rotates_in_region_and_is_protected(plan, cluster):
    names = _by_name(plan)
    ring, key = names["gke-keyring"], names["gke-key"]
    assert ring["protect"] and key["protect"]
    assert ring["inputs"]["location"] == REGION
    assert key["inputs"]["rotationPeriod"] == "7776000s"
    assert set(REQUIRED_TAG_KEYS) <= set(key["inputs"]["labels"])
    assert cluster["inputs"]["deletionProtection"] is True


def test_unprotected_when_protect_is_off():
    names = _by_name(component_plan(_program(protect=False, gpu_pools=(), gpu_zones={})))
    assert not names["gke-keyring"]["protect"] and not names["gke-key"]["protect"]
    assert names["gke-cluster"]["inputs"]["deletionProtection"] is False


def test_node_account_has_only_the_least_privilege_roles(plan):
    grants = resources_of(plan, "gcp:projects/iAMMember:IAMMember")
    assert sorted(g["inputs"]["role"] for g in grants) == sorted(NODE_ROLES)
    account = _by_name(plan)["gke-nodes"]
    for g in grants:
        assert g["inputs"]["project"] == PROJECT
        assert g["propertyDependencies"]["member"] == [account["urn"]]
    assert account["inputs"]["accountId"] == node_account_id(CLUSTER_NAME)


def test_node_account_ids_fit_gcp_rules_and_stay_distinct():
    ids = [node_account_id(n) for n in ("hml-dev-gcp", CLUSTER_NAME, f"{CLUSTER_NAME}-b",
                                        "x" * 40)]
    assert ids[0] == "hml-dev-gcp-nodes"
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z][-a-z0-9]{4,28}[a-z0-9]", i) for i in ids), ids


def test_kubeconfig_is_secret_and_provider_pinned_to_the_cluster(plan):
    [provider] = resources_of(plan, "pulumi:providers:kubernetes")
    assert provider["inputs"]["kubeconfig"] == "[secret]"
    assert provider["inputs"]["clusterIdentifier"] == CLUSTER_NAME
    assert provider["inputs"]["enableServerSideApply"] == "true"
    assert provider["parent"] == _by_name(plan)["gke"]["urn"]


def test_policy_pack_finds_no_mandatory_violation(plan):
    cfg = json.loads((ROOT / "policies/config.prod.json").read_text())
    res = run_policy_pack(ROOT / "policies", plan["resources"], cfg, analyze_all_resources=True)
    mandatory = [d for d in res.diagnostics if d.enforcement_level == "mandatory"]
    assert mandatory == [], [(d.policy_name, d.message) for d in mandatory]
    names = {p.name for p in res.policies}
    assert {"kubernetes-api-not-public", "kubernetes-secrets-encryption", "kms-key-rotation",
            "stateful-resources-protected"} <= names


# --- Outputs after an update -----------------------------------------------------------------

class _AppliedMocks(pulumi.runtime.Mocks):
    """Outputs as after an update: the cluster's endpoints and CA are known."""

    def new_resource(self, args):
        outs = dict(args.inputs)
        if args.typ == T_CLUSTER:
            outs.update(endpoint="34.90.0.10", masterAuth={"clusterCaCertificate": "Q0EtREFUQQ=="},
                        privateClusterConfig={**outs["privateClusterConfig"],
                                              "privateEndpoint": "10.32.0.2"})
        if args.typ == "gcp:serviceaccount/account:Account":
            outs["email"] = f"{outs['accountId']}@{PROJECT}.iam.gserviceaccount.com"
        return f"{args.name}-id", outs

    def call(self, args):
        raise AssertionError(f"no invokes expected, got {args.token}")


@pytest.fixture
def applied():
    # component_plan closes its event loop; the SDK's test runner needs a current one.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(_AppliedMocks(), preview=False)
    yield
    loop.close()


def _kubeconfig_check(expected_server: str):
    def check(values):
        text, secret = values
        assert secret
        doc = json.loads(text)
        [c] = doc["clusters"]
        assert c["cluster"] == {"server": expected_server,
                                "certificate-authority-data": "Q0EtREFUQQ=="}
        [u] = doc["users"]
        assert u["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
        assert u["user"]["exec"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"
        assert u["user"]["exec"]["provideClusterInfo"] is True
        assert "token" not in u["user"] and "client-key-data" not in u["user"]
        assert doc["current-context"] == CLUSTER_NAME
    return check


@pulumi.runtime.test
def test_private_kubeconfig_points_at_the_private_endpoint(applied):
    gke = KubernetesCluster("gke", _args())
    return pulumi.Output.all(gke.kubeconfig, gke.kubeconfig.is_secret()).apply(
        _kubeconfig_check("https://10.32.0.2"))


@pulumi.runtime.test
def test_restricted_kubeconfig_points_at_the_public_endpoint(applied):
    access = ApiAccess(mode="restricted", admin_cidrs=ADMIN, public_cidrs=("203.0.113.0/24",))
    gke = KubernetesCluster("gke", _args(api_access=access))
    return pulumi.Output.all(gke.kubeconfig, gke.kubeconfig.is_secret()).apply(
        _kubeconfig_check("https://34.90.0.10"))


@pulumi.runtime.test
def test_outputs_storage_class_pools_and_identity(applied):
    gke = KubernetesCluster("gke", _args())
    assert gke.workload_pool == f"{PROJECT}.svc.id.goog"
    assert set(gke.gpu_pools) == {"l4", "t4", "a100"}
    assert gke.gpu_pools["l4"].taints == [{"key": "nvidia.com/gpu", "value": "present",
                                           "effect": "NoSchedule"}]
    assert set(gke.gpu_pools["a100"].labels) == AGREED_LABELS
    assert gke.storage_class.provisioner == "pd.csi.storage.gke.io"
    params = gke.storage_class.parameters

    def check(values):
        disk_key, key_id, email, pool_name, name = values
        assert disk_key == key_id == "gke-key-id"
        assert email == f"{node_account_id(CLUSTER_NAME)}@{PROJECT}.iam.gserviceaccount.com"
        assert (pool_name, name) == ("gpu-l4", CLUSTER_NAME)

    assert params["type"] == "pd-balanced"
    return pulumi.Output.all(params["disk-encryption-kms-key"], gke.kms_key_id,
                             gke.node_service_account_email, gke.gpu_pools["l4"].node_pool_name,
                             gke.cluster_name).apply(check)
