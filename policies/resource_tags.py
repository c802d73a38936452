"""Where each target keeps a resource's tags, and a resource's effective tags.

Which resources are taggable is decided by type, from the explicit lists below,
plus any resource that was given a tags/labels input. A listed type that got no
tags at all is still judged (and fails on every required key). Types that are
in no list and have no tags input are not judged: the pack cannot know from
the inputs whether such a type accepts tags at all.

* AWS: ``tags``; the provider's ``defaultTags.tags`` apply underneath (the
  provider input arrives as JSON text, e.g. ``'{"tags": {...}}'``).
* GCP: ``labels`` (``resourceLabels`` on GKE clusters, ``settings.userLabels``
  on Cloud SQL); the provider's ``defaultLabels`` apply underneath.
* Azure: ``tags``; azure-native has no provider-level default tags.
* Kubernetes: ``metadata.labels`` with the ``hybridml.io/`` prefix
  (``hybridml.io/owner`` ...); every object kind is labelable except the
  non-object types listed in ``K8S_NOT_LABELABLE`` and ``...Patch``/``...List`` types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helpers import (
    Unknown,
    cloud_of,
    entries,
    is_mapping,
    is_unknown,
    keys,
    lookup,
    parse_json_input,
)
from pulumi_policy import PolicyProviderResource

#: AWS types that accept `tags` (a curated list of what platforms like ours create).
AWS_TAGGABLE = frozenset(
    {
        "aws:acm/certificate:Certificate",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:dynamodb/table:Table",
        "aws:ebs/snapshot:Snapshot",
        "aws:ebs/volume:Volume",
        "aws:ec2/customerGateway:CustomerGateway",
        "aws:ec2/eip:Eip",
        "aws:ec2/instance:Instance",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/vpc:Vpc",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:ec2/vpnConnection:VpnConnection",
        "aws:ec2/vpnGateway:VpnGateway",
        "aws:ec2transitgateway/transitGateway:TransitGateway",
        "aws:ecr/repository:Repository",
        "aws:efs/fileSystem:FileSystem",
        "aws:eks/cluster:Cluster",
        "aws:eks/nodeGroup:NodeGroup",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:iam/policy:Policy",
        "aws:iam/role:Role",
        "aws:kms/key:Key",
        "aws:kms/replicaKey:ReplicaKey",
        "aws:lambda/function:Function",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:lb/targetGroup:TargetGroup",
        "aws:msk/cluster:Cluster",
        "aws:rds/cluster:Cluster",
        "aws:rds/clusterInstance:ClusterInstance",
        "aws:rds/instance:Instance",
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "aws:sagemaker/domain:Domain",
        "aws:sagemaker/endpoint:Endpoint",
        "aws:sagemaker/model:Model",
        "aws:sagemaker/notebookInstance:NotebookInstance",
        "aws:secretsmanager/secret:Secret",
        "aws:sns/topic:Topic",
        "aws:sqs/queue:Queue",
        "aws:ssm/parameter:Parameter",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    }
)

#: GCP types that accept labels, and where the labels live when not at `labels`.
GCP_LABEL_PATHS: dict[str, tuple[str, ...]] = {
    "gcp:artifactregistry/repository:Repository": ("labels",),
    "gcp:bigquery/dataset:Dataset": ("labels",),
    "gcp:bigquery/table:Table": ("labels",),
    "gcp:compute/address:Address": ("labels",),
    "gcp:compute/disk:Disk": ("labels",),
    "gcp:compute/instance:Instance": ("labels",),
    "gcp:compute/vPNTunnel:VPNTunnel": ("labels",),
    "gcp:container/cluster:Cluster": ("resourceLabels",),
    "gcp:dataproc/cluster:Cluster": ("labels",),
    "gcp:filestore/instance:Instance": ("labels",),
    "gcp:kms/cryptoKey:CryptoKey": ("labels",),
    "gcp:pubsub/subscription:Subscription": ("labels",),
    "gcp:pubsub/topic:Topic": ("labels",),
    "gcp:redis/instance:Instance": ("labels",),
    "gcp:secretmanager/secret:Secret": ("labels",),
    "gcp:sql/databaseInstance:DatabaseInstance": ("settings", "userLabels"),
    "gcp:storage/bucket:Bucket": ("labels",),
}

#: Azure (azure-native) types that accept `tags`.
AZURE_TAGGABLE = frozenset(
    {
        "azure-native:compute:Disk",
        "azure-native:compute:VirtualMachine",
        "azure-native:containerregistry:Registry",
        "azure-native:containerservice:AgentPool",
        "azure-native:containerservice:ManagedCluster",
        "azure-native:dbforpostgresql:Server",
        "azure-native:eventhub:Namespace",
        "azure-native:keyvault:Key",
        "azure-native:keyvault:Secret",
        "azure-native:keyvault:Vault",
        "azure-native:machinelearningservices:Workspace",
        "azure-native:managedidentity:UserAssignedIdentity",
        "azure-native:network:LocalNetworkGateway",
        "azure-native:network:NetworkSecurityGroup",
        "azure-native:network:PrivateEndpoint",
        "azure-native:network:PublicIPAddress",
        "azure-native:network:VirtualNetwork",
        "azure-native:network:VirtualNetworkGateway",
        "azure-native:network:VirtualNetworkGatewayConnection",
        "azure-native:operationalinsights:Workspace",
        "azure-native:resources:ResourceGroup",
        "azure-native:storage:StorageAccount",
    }
)

K8S_LABEL_PREFIX = "hybridml.io/"
#: Kubernetes provider types that are not API objects with metadata: component resources (the CLI
#: analyses those too) and the Helm release. `...Patch` and `...List` types are skipped as well.
K8S_NOT_LABELABLE = frozenset(
    {
        "kubernetes:helm.sh/v3:Chart",
        "kubernetes:helm.sh/v3:Release",
        "kubernetes:helm.sh/v4:Chart",
        "kubernetes:kustomize:Directory",
        "kubernetes:kustomize/v2:Directory",
        "kubernetes:yaml:ConfigFile",
        "kubernetes:yaml:ConfigGroup",
        "kubernetes:yaml/v2:ConfigFile",
        "kubernetes:yaml/v2:ConfigGroup",
    }
)


@dataclass(frozen=True)
class Tags:
    """A resource's effective tags: key -> value, or Unknown where preview cannot know it."""

    values: dict[str, Any]
    #: Set when a whole tag map is unknown: any key not known otherwise is undecidable.
    unknown_map: Unknown | None = None

    def get(self, key: str) -> Any:
        if key in self.values:
            return self.values[key]
        return self.unknown_map


def tag_path(resource_type: str, props: object) -> tuple[str, ...] | None:
    """Where this resource's tags live, or None when the type is not taggable."""
    cloud = cloud_of(resource_type)
    names = keys(props)
    if cloud == "aws":
        return ("tags",) if resource_type in AWS_TAGGABLE or "tags" in names else None
    if cloud == "gcp":
        if resource_type in GCP_LABEL_PATHS:
            return GCP_LABEL_PATHS[resource_type]
        return ("labels",) if "labels" in names else None
    if cloud == "azure":
        return ("tags",) if resource_type in AZURE_TAGGABLE or "tags" in names else None
    if cloud == "kubernetes":
        if resource_type in K8S_NOT_LABELABLE or resource_type.endswith(("Patch", "List")):
            return None
        return ("metadata", "labels")
    return None


def _provider_defaults(
    cloud: str, provider: PolicyProviderResource | None
) -> tuple[dict[str, Any], Unknown | None]:
    if provider is None:
        return {}, None
    if cloud == "aws" and provider.resource_type == "pulumi:providers:aws":
        raw = lookup(provider.props, "defaultTags", base=("<provider>",))
        if is_unknown(raw):
            return {}, raw
        parsed = parse_json_input(raw) if raw is not None else None
        tags = parsed.get("tags") if isinstance(parsed, dict) else None
        return (dict(tags) if isinstance(tags, dict) else {}), None
    if cloud == "gcp" and provider.resource_type == "pulumi:providers:gcp":
        raw = lookup(provider.props, "defaultLabels", base=("<provider>",))
        if is_unknown(raw):
            return {}, raw
        parsed = parse_json_input(raw) if raw is not None else None
        return (dict(parsed) if isinstance(parsed, dict) else {}), None
    return {}, None


def effective_tags(
    resource_type: str, props: object, provider: PolicyProviderResource | None
) -> Tags | None:
    """The tags a resource ends up with (provider defaults under its own); None if not taggable."""
    path = tag_path(resource_type, props)
    if path is None:
        return None
    cloud = cloud_of(resource_type) or ""
    defaults, unknown_defaults = _provider_defaults(cloud, provider)
    values: dict[str, Any] = {str(k): v for k, v in defaults.items()}
    own = lookup(props, *path)
    if is_unknown(own):
        return Tags({}, own)
    if is_mapping(own):
        for key, value in entries(own, path):
            if cloud == "kubernetes":
                if not key.startswith(K8S_LABEL_PREFIX):
                    continue
                key = key[len(K8S_LABEL_PREFIX) :]
            values[key] = value
    return Tags(values, unknown_defaults)
