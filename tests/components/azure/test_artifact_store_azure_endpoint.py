"""Azure artifact stores are reachable from their VNet: blob private endpoint plus private DNS.

The storage account refuses public network access, so MLflow on AKS (which may send 443 to the
VNet's private-endpoint subnet) reaches blob storage only through a private endpoint there whose
name resolves, inside the VNet, through `privatelink.blob.core.windows.net`. Checked on the prod
preview (two stores share westeurope, hence one shared zone), on a stack without a network (no
endpoint, nothing else changes) and on the component with known ids.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_azure_native as azure
import pulumi_random as random
import pytest
from pydantic import ValidationError

from components import network_plan
from components.azure.artifact_store import (
    BLOB_PRIVATE_ZONE,
    ArtifactStore,
    ArtifactStoreArgs,
    BlobPrivateDns,
    BlobPrivateDnsArgs,
)
from components.tags import REQUIRED_TAG_KEYS, StandardTags
from stacks.preview.analyzer_client import run_policy_pack
from stacks.preview.manifests import kubernetes_objects
from stacks.preview.offline import PreviewMocks
from tests.conftest import ROOT, component_plan, resources_of, stack_platform, write_stack

T_STORE = "hybridml:azure:ArtifactStore"
T_DNS = "hybridml:azure:BlobPrivateDns"
T_ENDPOINT = "azure-native:network:PrivateEndpoint"
T_ZONE_GROUP = "azure-native:network:PrivateDnsZoneGroup"
T_ZONE, T_LINK = "azure-native:privatedns:PrivateZone", "azure-native:privatedns:VirtualNetworkLink"
T_VNET = "azure-native:network:VirtualNetwork"
T_ACCOUNT = "azure-native:storage:StorageAccount"

#: The children every Azure store had before it got an endpoint (name suffix -> type), as the
#: committed component registered them. Prod protects the store, so none of these URNs may move:
#: a changed URN is a delete and create.
EXISTING_CHILDREN = {
    "-rg": "azure-native:resources:ResourceGroup",
    "-suffix": "random:index/randomString:RandomString",
    "-cmk-identity": "azure-native:managedidentity:UserAssignedIdentity",
    "-vault": "azure-native:keyvault:Vault",
    "-key": "azure-native:keyvault:Key",
    "-cmk-grant": "azure-native:authorization:RoleAssignment",
    "-account": T_ACCOUNT,
    "-blob-service": "azure-native:storage:BlobServiceProperties",
    "-container": "azure-native:storage:BlobContainer",
    "-lifecycle": "azure-native:storage:ManagementPolicy",
    "-logs": "azure-native:operationalinsights:Workspace",
    "-blob-diagnostics": "azure-native:monitor:DiagnosticSetting",
}
PROTECTED = {"-vault", "-key", "-account", "-container"}
NEW_CHILDREN = {"-blob-endpoint": T_ENDPOINT, "-blob-endpoint-dns": T_ZONE_GROUP}

PROD = stack_platform("prod")
LOC = PROD["sites"]["azure"]["locations"][0]
SUB = PROD["sites"]["azure"]["subscriptionId"]
STORES = [s["name"] for s in PROD["storage"]["stores"]]
NET_RG = f"rg-hml-prod-network-{LOC}"
VNET_ID = (f"/subscriptions/{SUB}/resourceGroups/{NET_RG}/providers/Microsoft.Network/"
           f"virtualNetworks/vnet-hml-prod-{LOC}")
ZONE_ID = (f"/subscriptions/{SUB}/resourceGroups/{NET_RG}/providers/Microsoft.Network/"
           f"privateDnsZones/{BLOB_PRIVATE_ZONE}")
ENDPOINTS_CIDR = network_plan.azure_layout(PROD["network"]["azure"][LOC]["cidr"])["endpoints"]
TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="internal")


def _store_urn(store: str) -> str:
    return f"urn:pulumi:prod::hybrid-ml-platform::{T_STORE}::{store}-azure-{LOC}"


def _child_urn(store: str, suffix: str, type_: str) -> str:
    return f"urn:pulumi:prod::hybrid-ml-platform::{T_STORE}${type_}::{store}-azure-{LOC}{suffix}"


def _children(plan: dict[str, Any], store: str) -> dict[str, dict[str, Any]]:
    """The store's children by name suffix."""
    prefix = f"{store}-azure-{LOC}"
    return {r["name"].removeprefix(prefix): r for r in plan["resources"]
            if r["parent"] == _store_urn(store)}


def _one(plan: dict[str, Any], type_: str) -> dict[str, Any]:
    [resource] = resources_of(plan, type_)
    return resource


# --- prod: two stores in westeurope, one VNet -------------------------------------------------------

def test_prod_has_two_azure_stores_in_one_location():
    # What the rest of this module relies on: both stores land in the same VNet.
    assert len(STORES) == 2 and PROD["sites"]["azure"]["locations"] == [LOC]


@pytest.mark.parametrize("store", STORES)
def test_each_store_has_a_blob_endpoint_on_its_own_account_in_the_endpoints_subnet(prod_plan, store):
    children = _children(prod_plan, store)
    endpoint = children["-blob-endpoint"]
    i = endpoint["inputs"]
    [connection] = i["privateLinkServiceConnections"]
    assert connection["groupIds"] == ["blob"]
    # the account id is unknown at preview; its dependency names which account it is
    assert endpoint["propertyDependencies"]["privateLinkServiceConnections"] == [
        children["-account"]["urn"]]
    assert i["subnet"] == {"id": f"{VNET_ID}/subnets/private-endpoints"}
    assert i["location"] == LOC
    assert i["privateEndpointName"] == f"pe-hml-prod-{store}-blob"
    assert set(REQUIRED_TAG_KEYS) <= set(i["tags"])
    assert i["tags"]["data-classification"] == children["-account"]["inputs"]["tags"]["data-classification"]


def test_the_endpoint_subnet_is_the_range_mlflow_on_aks_may_send_443_to(prod_plan):
    vnet = _one(prod_plan, T_VNET)
    assert vnet["inputs"]["virtualNetworkName"] == VNET_ID.rsplit("/", 1)[1]
    subnets = {s["name"]: s for s in vnet["inputs"]["subnets"]}
    assert subnets["private-endpoints"]["addressPrefix"] == ENDPOINTS_CIDR
    allowed = [
        o for o in kubernetes_objects(prod_plan)
        if o.kind == "NetworkPolicy" and o.namespace == "mlflow" and o.cluster == f"hml-prod-azure-{LOC}"
        for rule in o.body["spec"].get("egress", [])
        if {"ipBlock": {"cidr": ENDPOINTS_CIDR}} in rule.get("to", [])
        and {"protocol": "TCP", "port": 443} in rule.get("ports", [])
    ]
    assert allowed, "no MLflow egress on 443 to the private-endpoint subnet"


def test_one_blob_zone_per_vnet_linked_to_it_and_every_endpoint_registers_there(prod_plan):
    # Azure refuses to link one VNet to two zones of the same name: one zone, both stores in it.
    zones = [z for z in resources_of(prod_plan, T_ZONE)
             if z["inputs"]["privateZoneName"] == BLOB_PRIVATE_ZONE]
    [zone] = zones
    assert zone["inputs"]["location"] == "global"
    assert zone["inputs"]["resourceGroupName"] == NET_RG
    assert zone["parent"] == f"urn:pulumi:prod::hybrid-ml-platform::{T_DNS}::blob-dns-azure-{LOC}"
    [link] = [x for x in resources_of(prod_plan, T_LINK) if x["parent"] == zone["parent"]]
    assert link["inputs"]["virtualNetwork"] == {"id": VNET_ID}
    assert link["inputs"]["privateZoneName"] == BLOB_PRIVATE_ZONE
    assert link["inputs"]["registrationEnabled"] is False
    assert link["inputs"]["location"] == "global"
    for store in STORES:
        children = _children(prod_plan, store)
        group = children["-blob-endpoint-dns"]
        [config] = group["inputs"]["privateDnsZoneConfigs"]
        assert config["privateDnsZoneId"] == ZONE_ID
        assert zone["urn"] in group["propertyDependencies"]["privateDnsZoneConfigs"]
        # the group belongs to this store's endpoint (same name, waits for it)
        endpoint = children["-blob-endpoint"]
        assert group["inputs"]["privateEndpointName"] == endpoint["inputs"]["privateEndpointName"]
        assert endpoint["urn"] in group["propertyDependencies"]["privateEndpointName"]


@pytest.mark.parametrize("store", STORES)
def test_existing_store_resources_keep_their_urns_and_protection(prod_plan, store):
    urns = {r["urn"]: r for r in prod_plan["resources"]}
    assert _store_urn(store) in urns
    for suffix, type_ in EXISTING_CHILDREN.items():
        urn = _child_urn(store, suffix, type_)
        assert urn in urns, f"{urn} moved: prod would replace it"
        assert urns[urn]["protect"] is (suffix in PROTECTED), urn
        assert not urns[urn]["options"].get("aliasURNs"), urn
    # nothing else appears under the store but the endpoint and its zone group
    assert {s: r["type"] for s, r in _children(prod_plan, store).items()} == {
        **EXISTING_CHILDREN, **NEW_CHILDREN}


def test_the_policy_pack_finds_nothing_on_the_stores_and_their_dns(prod_plan):
    mine = {_store_urn(s) for s in STORES} | {
        r["urn"] for r in prod_plan["resources"]
        if r["parent"] in {_store_urn(s) for s in STORES}
        or r["type"] == T_DNS or (r["parent"] or "").split("::")[2:3] == [T_DNS]}
    assert len(mine) == 2 * (1 + len(EXISTING_CHILDREN) + len(NEW_CHILDREN)) + 3
    config = json.loads((ROOT / "policies" / "config.prod.json").read_text())
    report = run_policy_pack(ROOT / "policies", prod_plan["resources"], config,
                             analyze_all_resources=True)
    assert [(d.policy_name, d.urn, d.message) for d in report.diagnostics if d.urn in mine] == []
    # and every check on them could decide (nothing hidden behind unknown values)
    assert [(c.policy_name, c.urn, c.reason) for c in report.undecided if c.urn in mine] == []


# --- a stack without a network: no VNet, so no endpoint ----------------------------------------------

@pytest.fixture(scope="module")
def no_network_plan(tmp_path_factory) -> dict[str, Any]:
    from stacks.preview.run import run_preview

    platform = stack_platform("prod")
    platform.pop("network")  # cloud clusters and the services on them need it: drop them too
    for cloud in ("aws", "gcp", "azure"):
        platform["kubernetes"].pop(cloud, None)
    platform.pop("services", None)
    return run_preview(write_stack(tmp_path_factory.mktemp("nonet"), "prod", platform), "prod").plan


def test_without_a_network_stores_have_no_endpoint_and_nothing_else_changes(no_network_plan):
    assert resources_of(no_network_plan, T_ENDPOINT) == []
    assert resources_of(no_network_plan, T_ZONE_GROUP) == []
    assert resources_of(no_network_plan, T_DNS) == []
    for store in STORES:
        children = _children(no_network_plan, store)
        assert {s: r["type"] for s, r in children.items()} == EXISTING_CHILDREN
        assert children["-account"]["inputs"]["publicNetworkAccess"] == "Disabled"


# --- the component, with ids known (as after an update) ----------------------------------------------

class _KnownIds(PreviewMocks):
    """Every resource gets an id, so wiring by id can be compared by value."""

    def new_resource(self, args):
        _, outputs = super().new_resource(args)
        rid = f"/mock/{args.typ}/{args.name}"
        return rid, {**outputs, "id": rid}


def _store_args(**kw) -> ArtifactStoreArgs:
    fields = {"prefix": "hml-prod", "store": "artifacts", "subscription_id": SUB,
              "tenant_id": "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d", "location": LOC, "tags": TAGS,
              "noncurrent_version_days": 90, "soft_delete_days": 30,
              "access_log_retention_days": 365, "key_size": 3072, "protect": True}
    return ArtifactStoreArgs(**{**fields, **kw})


@pytest.fixture(scope="module")
def known() -> dict[str, Any]:
    subnet = f"{VNET_ID}/subnets/private-endpoints"

    def program():
        p = azure.Provider("az", location=LOC)
        dns = BlobPrivateDns("dns", BlobPrivateDnsArgs(
            prefix="hml-prod", subscription_id=SUB, location=LOC, resource_group_name=NET_RG,
            vnet_id=VNET_ID, tags=TAGS), pulumi.ResourceOptions(providers=[p]))
        ArtifactStore("art", _store_args(endpoint_subnet_id=subnet, blob_dns_zone_id=dns.zone_id),
                      pulumi.ResourceOptions(providers=[p, random.Provider("random")]))

    return component_plan(program, _KnownIds())


def test_the_endpoint_connects_to_the_store_account_by_id(known):
    account = _one(known, T_ACCOUNT)
    [connection] = _one(known, T_ENDPOINT)["inputs"]["privateLinkServiceConnections"]
    assert connection["privateLinkServiceId"] == f"/mock/{T_ACCOUNT}/art-account"
    assert account["name"] == "art-account"
    assert _one(known, T_ENDPOINT)["inputs"]["subnet"] == {
        "id": f"{VNET_ID}/subnets/private-endpoints"}
    [config] = _one(known, T_ZONE_GROUP)["inputs"]["privateDnsZoneConfigs"]
    assert config["privateDnsZoneId"] == ZONE_ID


def test_an_endpoint_without_its_zone_is_refused():
    with pytest.raises(ValidationError, match="go together"):
        _store_args(endpoint_subnet_id=f"{VNET_ID}/subnets/private-endpoints")
    with pytest.raises(ValidationError, match="go together"):
        _store_args(blob_dns_zone_id=ZONE_ID)
