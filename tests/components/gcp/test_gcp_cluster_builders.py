"""The pure builders behind the GKE cluster component."""

from __future__ import annotations

import json
from typing import Any

from components.gcp import cluster as gke
from components.kubernetes.cluster_spec import ApiAccess, SystemPoolSpec
from components.tags import StandardTags

TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="confidential")


def _args(**over: Any) -> gke.KubernetesClusterArgs:
    fields: dict[str, Any] = {
        "prefix": "hml-prod", "cluster_name": "hml-prod-gcp-europe-west4",
        "project": "hml-prod-gke", "project_number": "123456789012", "region": "europe-west4",
        "kubernetes_version": "1.33", "tags": TAGS, "protect": True,
        "network_self_link": "projects/p/global/networks/v",
        "subnet_self_link": "projects/p/regions/europe-west4/subnetworks/s",
        "api_access": ApiAccess(mode="private", admin_cidrs=("10.0.0.0/14",)),
        "system_pool": SystemPoolSpec(machine_type="e2-standard-4"),
    }
    return gke.KubernetesClusterArgs(**{**fields, **over})


def test_authorized_networks_private_mode_lists_admin_ranges_only():
    access = ApiAccess(mode="private", admin_cidrs=("10.0.0.0/14", "192.168.0.0/24"))
    config = gke.authorized_networks(access)
    assert config["cidr_blocks"] == [
        {"cidr_block": "10.0.0.0/14", "display_name": "admin-0"},
        {"cidr_block": "192.168.0.0/24", "display_name": "admin-1"}]
    assert config["gcp_public_cidrs_access_enabled"] is False
    assert config["private_endpoint_enforcement_enabled"] is True


def test_authorized_networks_restricted_mode_adds_the_public_ranges():
    access = ApiAccess(mode="restricted", admin_cidrs=("10.0.0.0/14",),
                       public_cidrs=("203.0.113.0/24",))
    names = [b["display_name"] for b in gke.authorized_networks(access)["cidr_blocks"]]
    assert names == ["admin-0", "public-0"]


def test_cluster_settings_private_endpoint_follows_the_access_mode():
    private = gke.cluster_settings(_args())
    assert private["private_cluster_config"] == {"enable_private_nodes": True,
                                                 "enable_private_endpoint": True}
    restricted = gke.cluster_settings(_args(api_access=ApiAccess(
        mode="restricted", admin_cidrs=("10.0.0.0/14",), public_cidrs=("203.0.113.0/24",))))
    assert restricted["private_cluster_config"]["enable_private_endpoint"] is False


def test_cluster_settings_harden_the_cluster():
    settings = gke.cluster_settings(_args())
    assert settings["workload_identity_config"] == {"workload_pool": "hml-prod-gke.svc.id.goog"}
    assert settings["datapath_provider"] == "ADVANCED_DATAPATH"
    assert settings["enable_shielded_nodes"] is True
    assert settings["remove_default_node_pool"] is True
    assert "DCGM" in settings["monitoring_config"]["enable_components"]
    assert settings["deletion_protection"] is True
    assert "authenticator_groups_config" not in settings


def test_cluster_settings_name_the_security_group_when_given():
    settings = gke.cluster_settings(_args(security_group="gke-security-groups@example.com"))
    assert settings["authenticator_groups_config"] == {
        "security_group": "gke-security-groups@example.com"}


def test_node_role_resource_names():
    assert (gke.node_role_resource_name("gke", "roles/stackdriver.resourceMetadata.writer")
            == "gke-nodes-stackdriver-resourceMetadata-writer")
    assert (gke.node_role_resource_name("gke", "roles/logging.logWriter")
            == "gke-nodes-logging-logWriter")


def test_pd_storage_class_encrypts_with_the_disk_key():
    spec = gke.pd_storage_class("projects/p/locations/r/keyRings/k/cryptoKeys/k")
    assert spec.provisioner == "pd.csi.storage.gke.io"
    assert dict(spec.parameters)["disk-encryption-kms-key"].endswith("/cryptoKeys/k")


def test_kubeconfig_uses_the_gke_auth_plugin_and_https_endpoint():
    config = json.loads(gke.render_kubeconfig("c1", "10.0.0.2", "Q0E="))
    assert config["clusters"][0]["cluster"]["server"] == "https://10.0.0.2"
    assert config["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
