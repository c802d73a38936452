"""The EKS-managed add-ons of a cluster (VPC CNI, Pod Identity agent, EBS CSI driver) and the
cluster autoscaler, with the identities they run as."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws import cluster_iam as iam
from components.kubernetes.charts import container_resources, pinned_release


def vpc_cni_configuration() -> str:
    """The VPC CNI add-on's configuration: its network policy agent on."""
    return json.dumps({"enableNetworkPolicy": "true"})


def managed_addons(
    name: str, account_id: str, cluster_name: str, cluster: aws.eks.Cluster, key: aws.kms.Key,
    system: aws.eks.NodeGroup, tags: dict[str, str], parent: pulumi.Resource,
) -> aws.eks.Addon:
    """The VPC CNI (network policy on), the Pod Identity agent and the EBS CSI driver with its
    identity; returns the Pod Identity agent add-on."""
    # Add-ons with pods only become ACTIVE once there are nodes to run them on.
    after_nodes = pulumi.ResourceOptions(parent=parent, depends_on=[system])
    # The VPC CNI as a managed add-on with its network policy agent on (it takes over the
    # bootstrap copy the nodes started with): without it EKS ignores NetworkPolicy, and
    # every namespace's default-deny would be decoration.
    aws.eks.Addon(
        f"{name}-vpc-cni", cluster_name=cluster.name, addon_name="vpc-cni",
        configuration_values=vpc_cni_configuration(),
        resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
        tags=tags, opts=after_nodes)
    agent = aws.eks.Addon(
        f"{name}-pod-identity-agent", cluster_name=cluster.name,
        addon_name="eks-pod-identity-agent", resolve_conflicts_on_create="OVERWRITE",
        resolve_conflicts_on_update="OVERWRITE", tags=tags, opts=after_nodes)

    csi_grants = iam.ebs_csi_identity(f"{name}-ebs-csi", account_id, cluster_name,
                                      cluster.name, key.arn, agent, tags, parent)
    # The controller must find its credentials (and their permissions) when it first starts.
    aws.eks.Addon(
        f"{name}-ebs-csi", cluster_name=cluster.name, addon_name="aws-ebs-csi-driver",
        resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
        tags=tags, opts=pulumi.ResourceOptions(parent=parent, depends_on=[system, *csi_grants]))
    return agent


def autoscaler_values(region: str, cluster_name: str, kubernetes_version: str) -> dict:
    """Helm values of the cluster autoscaler: AWS auto-discovery of this cluster's groups,
    image matching the control plane, least-waste expander, hardened container."""
    return {
        "cloudProvider": "aws",
        "awsRegion": region,
        "autoDiscovery": {"clusterName": cluster_name},
        "image": {"tag": f"v{kubernetes_version}.0"},  # matches the control plane
        "rbac": {"serviceAccount": {"create": True, "name": iam.AUTOSCALER_SERVICE_ACCOUNT}},
        "extraArgs": {"balance-similar-node-groups": True, "expander": "least-waste",
                      "skip-nodes-with-system-pods": False},
        "resources": container_resources("100m", "300Mi", "500m", "600Mi"),
        "containerSecurityContext": {"allowPrivilegeEscalation": False,
                                     "readOnlyRootFilesystem": True,
                                     "capabilities": {"drop": ["ALL"]}},
    }


def cluster_autoscaler(
    name: str, account_id: str, values: dict, cluster_name: str, cluster: aws.eks.Cluster,
    agent: aws.eks.Addon, system: aws.eks.NodeGroup, tags: dict[str, str],
    provider: k8s.Provider, parent: pulumi.Resource,
) -> k8s.helm.v3.Release:
    """The cluster autoscaler (Helm `values`, see `autoscaler_values`) and its Pod Identity
    role."""
    # EKS managed node groups do not scale by themselves: without this the GPU pools would
    # sit at minSize. It scales the groups EKS tags as this cluster's, from zero too
    # (the node groups carry the node-template label/taint tags).
    grants = iam.autoscaler_identity(f"{name}-autoscaler", account_id, cluster_name,
                                     cluster.name, agent, tags, parent)
    return pinned_release(f"{name}-cluster-autoscaler", "cluster-autoscaler",
                          iam.AUTOSCALER_NAMESPACE, values, parent=parent,
                          depends_on=[system, *grants], provider=provider)
