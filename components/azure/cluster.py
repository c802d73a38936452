"""An AKS cluster: private or restricted API, Entra ID + Azure RBAC, own keys, GPU pools."""

from __future__ import annotations

import base64
import ipaddress
from typing import Any

import pulumi
import pulumi_azure_native as azure
import pulumi_kubernetes as k8s
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components.azure.cluster_keys import ClusterKeys, create_cluster_keys
from components.azure.gpu_pool import AZ_ZONES, GpuNodePool, GpuNodePoolArgs
from components.azure.network import known_after
from components.azure.roles import NETWORK_CONTRIBUTOR, grant_role
from components.kubernetes.cluster_spec import ApiAccess, StorageClassSpec, SystemPoolSpec
from components.kubernetes.gpu_pool import GpuPoolSpec, pool_problems
from components.tags import StandardTags, azure_tags

# NETWORK_CONTRIBUTOR stays importable from here (the cluster identity's subnet grants).
__all__ = ["KUBELOGIN_MODE", "NETWORK_CONTRIBUTOR", "KubernetesCluster", "KubernetesClusterArgs",
           "api_server_profile", "exec_with_cli_login", "network_profile", "security_profile",
           "storage_class", "system_pool_profile"]


class KubernetesClusterArgs(BaseModel):
    """Arguments of one AKS cluster."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    prefix: str = Field(description="Name prefix, e.g. `hml-prod`.")
    cluster_name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,52}[a-z0-9]$",
        description="AKS name and DNS prefix (so at most 54 characters), e.g. "
                    "`hml-prod-azure-westeurope`.")
    subscription_id: str = Field(description="Subscription that holds the cluster.")
    tenant_id: str = Field(description="Entra ID tenant of the admins and the Key Vault.")
    location: str = Field(description="Azure location, e.g. `westeurope`.")
    kubernetes_version: str = Field(
        pattern=r"^1\.\d{1,2}$",
        description="Kubernetes minor version, e.g. `1.33` (AKS picks the patch).")
    tags: StandardTags = Field(description="Standard tags put on every taggable resource.")
    protect: bool = Field(
        description="Protect the Key Vault, its keys and the disk encryption set.")
    resource_group_name: str | pulumi.Output[str] = Field(
        description="The network's resource group (`Network.resource_group_name`), "
                    "the cluster's too.")
    node_subnet_id: str | pulumi.Output[str] = Field(
        description="Subnet of the nodes (`Network.subnet_ids['nodes']`).")
    api_server_subnet_id: str | pulumi.Output[str] = Field(
        description="Subnet (/28 or larger) delegated to "
                    "Microsoft.ContainerService/managedClusters that the API server is projected "
                    "into (API Server VNet Integration); KMS with a private vault needs it.")
    pod_cidr: str = Field(description="Overlay pod range (never routed outside the cluster).")
    service_cidr: str = Field(description="Kubernetes service range.")
    dns_service_ip: str = Field(description="Cluster DNS service address, inside `service_cidr`.")
    admin_group_object_ids: tuple[str, ...] = Field(
        min_length=1, description="Entra ID group object ids whose members are cluster admins.")
    api_access: ApiAccess = Field(description="Who reaches the API server.")
    system_pool: SystemPoolSpec = Field(description="The untainted System pool for add-ons.")
    gpu_pools: tuple[GpuPoolSpec, ...] = Field(default=(), description="GPU pools (target azure).")

    @field_validator("pod_cidr", "service_cidr")
    @classmethod
    def _private_range(cls, value: str) -> str:
        net = ipaddress.IPv4Network(value)  # ValueError (e.g. host bits set) -> validation error
        if not (net.is_private or net.subnet_of(ipaddress.IPv4Network("100.64.0.0/10"))):
            raise ValueError(f"{net} is not a private range")
        return str(net)

    @field_validator("gpu_pools")
    @classmethod
    def _azure_pools(cls, pools: tuple[GpuPoolSpec, ...]) -> tuple[GpuPoolSpec, ...]:
        problems = pool_problems("azure", pools)
        if any(p.name == "system" for p in pools):
            problems.append("GPU pool name 'system' is the system pool's")
        if problems:
            raise ValueError("; ".join(problems))
        return pools

    @model_validator(mode="after")
    def _coherent(self) -> KubernetesClusterArgs:
        problems = []
        pods = ipaddress.IPv4Network(self.pod_cidr)
        services = ipaddress.IPv4Network(self.service_cidr)
        if pods.overlaps(services):
            problems.append(f"pod range {pods} overlaps service range {services}")
        dns = ipaddress.IPv4Address(self.dns_service_ip)
        if dns not in services or dns in (services[0], services[1], services[-1]):
            problems.append(f"DNS service IP {dns} must be a usable address of {services} other "
                            f"than {services[1]} (the kubernetes service)")
        if problems:
            raise ValueError("; ".join(problems))
        return self


#: kubelogin login mode of the provider's kubeconfig: the Azure CLI's login (`az login`, which
#: CI does by OIDC with azure/login). AKS hands out `devicecode`, which waits for a browser.
KUBELOGIN_MODE = "azurecli"


def exec_with_cli_login(kubeconfig: str) -> str:
    """AKS's exec kubeconfig with every kubelogin user switched to the Azure CLI login
    (`kubelogin get-token --login azurecli --server-id <AKS server app id>`), like
    `kubelogin convert-kubeconfig -l azurecli`, so `pulumi up` never waits for a device code."""
    doc = yaml.safe_load(kubeconfig)
    for user in doc.get("users") or []:
        exec_ = (user.get("user") or {}).get("exec") or {}
        if exec_.get("command") != "kubelogin":
            continue
        args = list(exec_.get("args") or [])
        server_id = args[args.index("--server-id") + 1] if "--server-id" in args else None
        if server_id is None:
            raise ValueError("AKS kubeconfig: kubelogin without --server-id")
        exec_["args"] = ["get-token", "--login", KUBELOGIN_MODE, "--server-id", server_id]
    return yaml.safe_dump(doc, sort_keys=False)


def _decoded_kubeconfig(creds: azure.containerservice.ListManagedClusterUserCredentialsResult
                        ) -> str:
    return exec_with_cli_login(base64.b64decode(creds.kubeconfigs[0].value).decode())


class KubernetesCluster(pulumi.ComponentResource):
    """An AKS cluster with a System pool, one `GpuNodePool` per GPU pool and a Kubernetes provider.

    Guarantees: the API server is projected into the VNet (API Server VNet Integration) and
    is either private (no public FQDN) or public only to `public_cidrs`; Entra ID sign-in
    with Azure RBAC for Kubernetes, `admin_group_object_ids` as admins, local accounts off;
    OIDC issuer and workload identity on; Kubernetes secrets encrypted in etcd with a
    customer-managed Key Vault key (KMS, private vault); OS and data disks encrypted with
    a customer-managed key through a disk encryption set, plus encryption at host; Azure
    CNI overlay with Cilium dataplane and network policy; patch and node-image auto-upgrade;
    Standard tier (uptime SLA). The vault (RBAC-only, purge-protected, firewalled), keys and
    disk encryption set are protected when `protect`. `api_access.admin_cidrs` reach the
    VNet-integrated API server through the network (its NSGs admit on-prem ranges); AKS has
    no per-range setting for the private endpoint.

    Deploying needs: the subscription feature Microsoft.Compute/EncryptionAtHost registered;
    the API server subnet delegated to Microsoft.ContainerService/managedClusters; and, for
    the `provider` (exec kubeconfig), `kubelogin` on PATH and, for a private cluster, a
    network path to the VNet (VPN/on-prem).
    """

    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    storage_class: StorageClassSpec
    oidc_issuer_url: pulumi.Output[str | None]
    kubelet_identity_object_id: pulumi.Output[str | None]
    #: The control plane's user-assigned identity (grant it what its cloud controller manages).
    identity_principal_id: pulumi.Output[str]
    gpu_pools: dict[str, GpuNodePool]
    disk_encryption_set_id: pulumi.Output[str]

    def __init__(self, name: str, args: KubernetesClusterArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:azure:KubernetesCluster", name, None, opts)
        tags = azure_tags(args.tags)
        identity = _cluster_identity(name, args, tags, self)
        keys = create_cluster_keys(
            name, parent=self, prefix=args.prefix, cluster_name=args.cluster_name,
            subscription_id=args.subscription_id, tenant_id=args.tenant_id,
            location=args.location, resource_group_name=args.resource_group_name,
            cluster_identity=identity, tags=tags, protect=args.protect,
        )
        network_grants = _network_grants(name, args, identity, self)
        cluster = _managed_cluster(name, args, identity, keys, network_grants, tags, self)
        self.gpu_pools = _gpu_pools(name, args, cluster, self)
        self.cluster_name = cluster.name
        self.kubeconfig = _kubeconfig(args, cluster, self)
        self.provider = _provider(name, args, self.kubeconfig, cluster, self)
        self.disk_encryption_set_id = keys.disk_encryption_set.id
        self.storage_class = storage_class(self.disk_encryption_set_id)
        self.oidc_issuer_url = cluster.oidc_issuer_profile.apply(
            lambda p: p.issuer_url if p else None)
        self.kubelet_identity_object_id = cluster.identity_profile.apply(
            lambda p: p["kubeletidentity"].object_id if p and "kubeletidentity" in p else None)
        self.identity_principal_id = identity.principal_id
        self.register_outputs({
            "identity_principal_id": self.identity_principal_id,
            "cluster_name": self.cluster_name,
            "kubeconfig": self.kubeconfig,
            "provider": self.provider,
            "oidc_issuer_url": self.oidc_issuer_url,
            "kubelet_identity_object_id": self.kubelet_identity_object_id,
            "disk_encryption_set_id": self.disk_encryption_set_id,
            "gpu_pools": {n: p.agent_pool_name for n, p in self.gpu_pools.items()},
        })


def _cluster_identity(name: str, args: KubernetesClusterArgs, tags: dict[str, str],
                      parent: pulumi.Resource) -> azure.managedidentity.UserAssignedIdentity:
    """The control plane's user-assigned identity."""
    return azure.managedidentity.UserAssignedIdentity(
        f"{name}-identity", resource_group_name=args.resource_group_name,
        location=args.location, resource_name_=f"id-{args.cluster_name}", tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _network_grants(name: str, args: KubernetesClusterArgs,
                    identity: azure.managedidentity.UserAssignedIdentity,
                    parent: pulumi.Resource) -> list[azure.authorization.RoleAssignment]:
    """Custom VNet: the cluster identity joins both subnets and manages LB/NSG bits there."""
    return [
        grant_role(f"{name}-{role}-subnet-grant", identity.principal_id, args.subscription_id,
                   NETWORK_CONTRIBUTOR, subnet, pulumi.ResourceOptions(parent=parent))
        for role, subnet in (("nodes", args.node_subnet_id),
                             ("apiserver", args.api_server_subnet_id))
    ]


def _managed_cluster(name: str, args: KubernetesClusterArgs,
                     identity: azure.managedidentity.UserAssignedIdentity, keys: ClusterKeys,
                     network_grants: list[azure.authorization.RoleAssignment],
                     tags: dict[str, str],
                     parent: pulumi.Resource) -> azure.containerservice.ManagedCluster:
    return azure.containerservice.ManagedCluster(
        f"{name}-cluster",
        resource_name_=args.cluster_name,
        resource_group_name=args.resource_group_name,
        location=args.location,
        dns_prefix=args.cluster_name,
        node_resource_group=f"rg-{args.cluster_name}-nodes",
        kubernetes_version=args.kubernetes_version,
        sku={"name": "Base", "tier": "Standard"},
        identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
        agent_pool_profiles=[system_pool_profile(args, tags)],
        disk_encryption_set_id=keys.disk_encryption_set.id,
        api_server_access_profile=api_server_profile(args),
        aad_profile={
            "managed": True,
            "enable_azure_rbac": True,
            "admin_group_object_ids": list(args.admin_group_object_ids),
            "tenant_id": args.tenant_id,
        },
        enable_rbac=True,
        disable_local_accounts=True,
        oidc_issuer_profile={"enabled": True},
        security_profile=security_profile(keys.kms_key.key_uri_with_version, keys.vault.id),
        network_profile=network_profile(args),
        auto_upgrade_profile={"upgrade_channel": "patch",
                              "node_os_upgrade_channel": "NodeImage"},
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*keys.grants, *network_grants]),
    )


def _gpu_pools(name: str, args: KubernetesClusterArgs,
               cluster: azure.containerservice.ManagedCluster,
               parent: pulumi.Resource) -> dict[str, GpuNodePool]:
    # The cluster's name known at preview (plans show it), still waiting for the cluster.
    cluster_ref = known_after(cluster, args.cluster_name)
    return {
        pool.name: GpuNodePool(
            f"{name}-gpu-{pool.name}",
            GpuNodePoolArgs(pool=pool, resource_group_name=args.resource_group_name,
                            cluster_name=cluster_ref, vnet_subnet_id=args.node_subnet_id,
                            kubernetes_version=args.kubernetes_version, tags=args.tags),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for pool in args.gpu_pools
    }


def _kubeconfig(args: KubernetesClusterArgs, cluster: azure.containerservice.ManagedCluster,
                parent: pulumi.Resource) -> pulumi.Output[str]:
    """The user kubeconfig (exec, Azure CLI login), a secret."""
    # Output form: unknown (and not called) while the cluster is still to be created.
    creds = azure.containerservice.list_managed_cluster_user_credentials_output(
        resource_group_name=args.resource_group_name, resource_name=cluster.name,
        format="exec", opts=pulumi.InvokeOutputOptions(parent=parent),
    )
    return pulumi.Output.secret(creds.apply(_decoded_kubeconfig))


def _provider(name: str, args: KubernetesClusterArgs, kubeconfig: pulumi.Output[str],
              cluster: azure.containerservice.ManagedCluster,
              parent: pulumi.Resource) -> k8s.Provider:
    return k8s.Provider(
        f"{name}-k8s",
        kubeconfig=kubeconfig,
        cluster_identifier=args.cluster_name,
        enable_server_side_apply=True,
        # Explicit: the credentials invoke carries no dependency, and a destroy must remove
        # what this provider created before the cluster goes.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[cluster]),
    )


def storage_class(disk_encryption_set_id: pulumi.Input[str]) -> StorageClassSpec:
    """Azure Disk CSI: zone-redundant Premium SSDs encrypted with the cluster's key."""
    return StorageClassSpec(
        provisioner="disk.csi.azure.com",
        parameters={
            # Zone-redundant: a pod rescheduled into another zone still attaches its disk.
            "skuName": "Premium_ZRS",
            "diskEncryptionSetID": disk_encryption_set_id,
            # No SAS export URLs for the disks.
            "networkAccessPolicy": "DenyAll",
        },
    )


def security_profile(kms_key_id: pulumi.Input[str],
                     vault_id: pulumi.Input[str]) -> dict[str, Any]:
    """Workload identity, weekly image cleaning and KMS (etcd encryption) with a private vault."""
    return {
        "workload_identity": {"enabled": True},
        "image_cleaner": {"enabled": True, "interval_hours": 168},
        # "Public" would need a vault open to all networks; a firewalled vault is only
        # reachable by KMS as "Private", over API Server VNet Integration.
        "azure_key_vault_kms": {
            "enabled": True,
            "key_id": kms_key_id,
            "key_vault_network_access": "Private",
            "key_vault_resource_id": vault_id,
        },
    }


def network_profile(args: KubernetesClusterArgs) -> dict[str, Any]:
    """Azure CNI overlay with the Cilium dataplane and network policy, Standard load balancer."""
    return {
        "network_plugin": "azure",
        "network_plugin_mode": "overlay",
        "network_dataplane": "cilium",
        "network_policy": "cilium",
        "pod_cidr": args.pod_cidr,
        "service_cidr": args.service_cidr,
        "dns_service_ip": args.dns_service_ip,
        "outbound_type": "loadBalancer",
        "load_balancer_sku": "standard",
    }


def system_pool_profile(args: KubernetesClusterArgs, tags: dict[str, str]) -> dict[str, Any]:
    """The System agent pool, untainted (the platform add-ons run there too)."""
    pool = args.system_pool
    # No CriticalAddonsOnly taint: the platform add-ons run here too.
    return {
        "name": "system",
        "mode": "System",
        "type": "VirtualMachineScaleSets",
        "vm_size": pool.machine_type,
        "os_type": "Linux",
        "os_sku": "Ubuntu",
        "orchestrator_version": args.kubernetes_version,
        "enable_auto_scaling": True,
        "count": pool.min_size,
        "min_count": pool.min_size,
        "max_count": pool.max_size,
        "vnet_subnet_id": args.node_subnet_id,
        "availability_zones": list(AZ_ZONES),
        "enable_encryption_at_host": True,
        "os_disk_type": "Managed",
        "os_disk_size_gb": pool.disk_size_gb,
        "tags": tags,
    }


def api_server_profile(args: KubernetesClusterArgs) -> dict[str, Any]:
    """VNet-integrated API server, private (public FQDN kept) or public to `public_cidrs`."""
    profile: dict = {"enable_vnet_integration": True, "subnet_id": args.api_server_subnet_id}
    if args.api_access.mode == "private":
        # The public FQDN resolves to the private API address: on-prem (where `pulumi up`
        # runs, over the VPN) resolves it without forwarding to the cluster's private DNS zone.
        return {**profile, "enable_private_cluster": True,
                "enable_private_cluster_public_fqdn": True}
    return {**profile, "enable_private_cluster": False,
            "authorized_ip_ranges": list(args.api_access.public_cidrs)}
