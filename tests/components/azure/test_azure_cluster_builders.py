"""Pure builders of the AKS cluster: pool, API server, network and security profiles."""

from __future__ import annotations

from components.azure.cluster import (
    KubernetesClusterArgs,
    api_server_profile,
    network_profile,
    security_profile,
    storage_class,
    system_pool_profile,
)
from components.azure.cluster_keys import CLUSTER_KEY_SIZE, KMS_KEY_OPS, disk_key_names
from components.kubernetes.cluster_spec import ApiAccess, SystemPoolSpec
from components.tags import StandardTags

TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="internal")


def _args(**kw) -> KubernetesClusterArgs:
    fields = {
        "prefix": "hml-prod", "cluster_name": "hml-prod-azure-westeurope",
        "subscription_id": "sub", "tenant_id": "tenant", "location": "westeurope",
        "kubernetes_version": "1.33", "tags": TAGS, "protect": True, "resource_group_name": "rg",
        "node_subnet_id": "nodes-subnet", "api_server_subnet_id": "api-subnet",
        "pod_cidr": "192.168.0.0/16", "service_cidr": "10.96.0.0/16",
        "dns_service_ip": "10.96.0.10", "admin_group_object_ids": ("admins",),
        "api_access": ApiAccess(mode="private", admin_cidrs=("10.0.0.0/14",)),
        "system_pool": SystemPoolSpec(machine_type="Standard_D4ds_v5", min_size=2, max_size=5),
    }
    return KubernetesClusterArgs(**{**fields, **kw})


def test_system_pool_autoscales_within_its_spec_over_three_zones_with_host_encryption():
    pool = system_pool_profile(_args(), {"env": "prod"})
    assert (pool["name"], pool["mode"], pool["vm_size"]) == ("system", "System", "Standard_D4ds_v5")
    assert (pool["count"], pool["min_count"], pool["max_count"]) == (2, 2, 5)
    assert pool["availability_zones"] == ["1", "2", "3"]
    assert pool["enable_encryption_at_host"] is True
    assert pool["vnet_subnet_id"] == "nodes-subnet" and pool["orchestrator_version"] == "1.33"
    assert "node_taints" not in pool
    assert pool["tags"] == {"env": "prod"}


def test_private_api_server_keeps_a_public_fqdn_and_no_authorized_ranges():
    assert api_server_profile(_args()) == {
        "enable_vnet_integration": True, "subnet_id": "api-subnet",
        "enable_private_cluster": True, "enable_private_cluster_public_fqdn": True}


def test_restricted_api_server_admits_only_its_public_ranges():
    access = ApiAccess(mode="restricted", public_cidrs=("203.0.113.0/24",))
    assert api_server_profile(_args(api_access=access)) == {
        "enable_vnet_integration": True, "subnet_id": "api-subnet",
        "enable_private_cluster": False, "authorized_ip_ranges": ["203.0.113.0/24"]}


def test_network_profile_is_cilium_overlay_with_the_given_ranges():
    profile = network_profile(_args())
    assert (profile["network_plugin"], profile["network_plugin_mode"]) == ("azure", "overlay")
    assert profile["network_dataplane"] == profile["network_policy"] == "cilium"
    assert (profile["pod_cidr"], profile["service_cidr"], profile["dns_service_ip"]) == (
        "192.168.0.0/16", "10.96.0.0/16", "10.96.0.10")


def test_kms_uses_the_private_vault_and_the_given_key_version():
    kms = security_profile("https://kv/keys/etcd-kms/v1", "/vault/id")["azure_key_vault_kms"]
    assert kms == {"enabled": True, "key_id": "https://kv/keys/etcd-kms/v1",
                   "key_vault_network_access": "Private", "key_vault_resource_id": "/vault/id"}


def test_storage_class_uses_zone_redundant_disks_with_the_encryption_set():
    spec = storage_class("/des/id")
    assert spec.provisioner == "disk.csi.azure.com"
    assert spec.parameters == {"skuName": "Premium_ZRS", "diskEncryptionSetID": "/des/id",
                               "networkAccessPolicy": "DenyAll"}


def test_cluster_key_names_and_kms_key_settings():
    names = disk_key_names("aks")
    assert (names.identity, names.vault, names.key, names.grant) == (
        "aks-des-identity", "aks-vault", "aks-disk-key", "aks-des-key-grant")
    assert CLUSTER_KEY_SIZE == 3072 and KMS_KEY_OPS == ("encrypt", "decrypt")
