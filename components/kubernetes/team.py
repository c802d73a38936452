"""A team's environment on one cluster, and its Grafana folder on the central one.

`TeamEnvironment` is what a new team gets on each cluster it runs on: a guarded namespace (the
same `PlatformNamespace` the services use: Pod Security, quota including GPUs, container
defaults, default-deny networking), its group bound to a `team-member` Role there, egress to
the Gateway (MLflow) and Kafka, its Kafka topics and a Kafka user allowed on exactly those,
and a ConfigMap telling its workloads where MLflow, Kafka and its storage are. `TeamFolder` is the team's folder in
the central Grafana with a dashboard of what the team uses on every cluster.
"""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls
from pydantic import BaseModel, ConfigDict, Field, InstanceOf, model_validator

from components.inputs import StrInput
from components.kubernetes.dashboards import DASHBOARD_LABEL, FOLDER_ANNOTATION
from components.kubernetes.gateway import NAMESPACE as GATEWAY_NAMESPACE
from components.kubernetes.kafka import (
    INTERNAL_PORT,
    KafkaAclSpec,
    KafkaTopicSpec,
    kafka_topic,
    kafka_user,
)
from components.kubernetes.monitoring import ENVOY_PROXY_LABELS
from components.kubernetes.namespace import NamespaceQuota, PlatformNamespace, PlatformNamespaceArgs
from components.kubernetes.objects import in_namespace, network_policy, object_labels
from components.kubernetes.team_dashboard import team_dashboard
from components.kubernetes.work_queues.constants import TEAM_NAMESPACE_LABEL
from components.tags import StandardTags

#: The ConfigMap (in the team's namespace) workloads load with `envFrom`.
ENVIRONMENT_CONFIGMAP = "team-environment"
#: The ServiceAccount whose pods get the team's storage by workload identity.
WORKLOAD_SERVICE_ACCOUNT = "workload"
#: The Secret (in the team's namespace) with the team's Kafka client certificate and CA.
KAFKA_CLIENT_SECRET = "kafka-client"
#: Team client certificates: one year, re-issued by `pulumi up` in their last 30 days.
CLIENT_CERT_VALIDITY_HOURS = 365 * 24
CLIENT_CERT_RENEWAL_HOURS = 30 * 24
#: Where the team's namespace may be reached from: the platform Gateway (its own routes) and
#: Prometheus (its ServiceMonitors), as for the platform namespaces.
INGRESS_SOURCES = (GATEWAY_NAMESPACE, "monitoring")
INGRESS_PODS = {"monitoring": {"app.kubernetes.io/name": "prometheus"}}

_PUBLIC_EXCEPT = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                  "169.254.0.0/16")


def team_acls(prefix: str) -> tuple[KafkaAclSpec, ...]:
    """What a team's Kafka user may do: its own topics, groups and transactions (by prefix),
    nothing else."""
    return (
        KafkaAclSpec(resource_type="topic", name=prefix, pattern_type="prefix",
                     operations=("Read", "Write", "Describe", "DescribeConfigs")),
        KafkaAclSpec(resource_type="group", name=prefix, pattern_type="prefix",
                     operations=("Read", "Describe")),
        KafkaAclSpec(resource_type="transactionalId", name=prefix, pattern_type="prefix",
                     operations=("Write", "Describe")),
        # Idempotent producers (the default since Kafka 3) need this cluster-level right.
        KafkaAclSpec(resource_type="cluster", operations=("IdempotentWrite",)),
    )


class TeamKafka(BaseModel):
    """The Kafka cluster on this cluster, as the team's topics and user need it."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    kafka_name: str = Field(description="Name of the Kafka resource (`strimzi.io/cluster`).")
    namespace: str = Field(description="Namespace of the Kafka cluster and its operators.")
    bootstrap: str = Field(description="In-cluster bootstrap address of the TLS listener.")
    cluster_ca_cert_pem: InstanceOf[pulumi.Output] = Field(
        description="The brokers' CA certificate, which clients trust.")
    clients_ca_cert_pem: InstanceOf[pulumi.Output] = Field(
        description="The clients CA certificate (issuer of the team's client certificate).")
    clients_ca_key_pem: InstanceOf[pulumi.Output] = Field(
        description="The clients CA key (secret), which signs the team's client certificate.")
    topics: tuple[KafkaTopicSpec, ...] = Field(default=(), description="The team's topics.")
    protect: bool = Field(description="Protect the topics (their records) from deletion.")
    wait_for: tuple[InstanceOf[pulumi.Resource], ...] = Field(
        default=(), description="The Kafka cluster: topics and the user come after it.")


class TeamEnvironmentArgs(BaseModel):
    """Arguments of a TeamEnvironment."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    team: str = Field(min_length=3, max_length=30, pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$",
                      description="Team name.")
    namespace: str = Field(description="The team's namespace, `team-<name>`.")
    group: str = Field(min_length=1, description="Identity-provider group bound to the "
                                                 "`team-member` Role.")
    quota: NamespaceQuota = Field(description="ResourceQuota of the namespace (GPUs included).")
    tags: StandardTags = Field(description="The team's tags (owner, cost centre, class).")
    store_uri: StrInput | None = Field(
        default=None, description="The team's own bucket on this (cloud) site, which the "
                                  "`workload` ServiceAccount reaches by workload identity.")
    store_private_cidrs: tuple[str, ...] = Field(
        default=(), description="Private-endpoint ranges of the store (Azure); its public "
                                "HTTPS endpoint otherwise.")
    identity_endpoints: tuple[tuple[str, int], ...] = Field(
        default=(), description="Node-local workload-identity agents the pods ask for tokens "
                                "(EKS Pod Identity, GKE metadata server), as (CIDR, port).")
    service_account_annotations: dict[str, StrInput] = Field(
        default_factory=dict, description="Annotations binding the `workload` ServiceAccount "
                                          "to the store grant (Azure, GKE; none for EKS).")
    gateway_lb_cidrs: tuple[str, ...] = Field(
        default=(), description="Where the Gateway's internal load balancer is reached without "
                                "in-cluster translation (EKS: the NLB in the VPC), on 443.")
    mlflow_url: str | None = Field(default=None, description="MLflow on this cluster, if any "
                                                             "(its URL at the Gateway).")
    mlflow_workspace: str | None = Field(
        default=None, description="The team's MLflow workspace (`team-<name>`): its experiments, "
                                  "models and artifacts, closed to other teams.")
    kafka: TeamKafka | None = Field(default=None, description="Kafka on this cluster, if any.")
    wait_for: tuple[InstanceOf[pulumi.Resource], ...] = Field(
        default=(), description="What must exist first (the cluster's add-ons).")

    @model_validator(mode="after")
    def _ranges(self) -> TeamEnvironmentArgs:
        for cidr in (*self.store_private_cidrs, *self.gateway_lb_cidrs,
                     *(c for c, _ in self.identity_endpoints)):
            if ipaddress.ip_network(cidr, strict=True).prefixlen == 0:
                raise ValueError(f"{cidr} opens egress to everywhere; name the ranges")
        if self.store_private_cidrs and self.store_uri is None:
            raise ValueError("store_private_cidrs need a store_uri")
        return self


#: What a team member may do in the team's namespace: run and expose workloads, use its
#: ConfigMaps, Secrets and volumes. Unlike the built-in `edit`, never change the guard rails
#: (NetworkPolicies, quota, limits) or grant access (Roles, RoleBindings).
TEAM_MEMBER_RULES: tuple[dict, ...] = (
    {"apiGroups": [""], "resources": ["pods", "pods/log", "pods/exec", "pods/portforward",
                                      "services", "configmaps", "secrets",
                                      "persistentvolumeclaims"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["events", "endpoints", "serviceaccounts",
                                      "resourcequotas", "limitranges"],
     "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "replicasets"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": ["apps"], "resources": ["deployments/scale", "statefulsets/scale"],
     "verbs": ["get", "update", "patch"]},
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    # Distributed training through the team's queue (Kueue admits them): JobSets, RayJobs and
    # RayClusters; their status, and the queue's own view of them, read-only.
    {"apiGroups": ["jobset.x-k8s.io"], "resources": ["jobsets"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": ["ray.io"], "resources": ["rayjobs", "rayclusters"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": ["jobset.x-k8s.io"], "resources": ["jobsets/status"],
     "verbs": ["get"]},
    {"apiGroups": ["ray.io"], "resources": ["rayjobs/status", "rayclusters/status"],
     "verbs": ["get"]},
    {"apiGroups": ["kueue.x-k8s.io"], "resources": ["localqueues", "workloads"],
     "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["visibility.kueue.x-k8s.io"], "resources": ["localqueues/pendingworkloads"],
     "verbs": ["get", "list"]},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["httproutes"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"],
     "verbs": ["get", "list", "watch"]},
)
#: Envoy Gateway runs its proxies unprivileged: listener port 443 is container port 10443, which
#: is what a NetworkPolicy sees once the cluster translates the load balancer's address.
GATEWAY_PROXY_PORT = 10443
_GATEWAY_PROXY_PODS = ENVOY_PROXY_LABELS


class TeamEnvironment(pulumi.ComponentResource):
    """A team's environment on one cluster.

    Creates: a PlatformNamespace `team-<name>` (restricted Pod Security, ResourceQuota with
    `requests.nvidia.com/gpu`, LimitRange, default-deny plus DNS, same-namespace, Gateway and
    Prometheus ingress); a `team-member` Role (workloads, not guard rails) bound to the team's
    group; egress to the Gateway's proxies (MLflow and served models, behind their sign-on),
    to Kafka, and on cloud sites to the team's bucket and the workload-identity agent; a
    `workload` ServiceAccount; and a `team-environment` ConfigMap. With Kafka: the team's
    KafkaTopics, a `tls-external` KafkaUser `team-<name>` whose ACLs grant only the `<name>-`
    prefix, and a client certificate for it signed by the clients CA in the `kafka-client`
    Secret of the team's namespace (no credential is copied between namespaces).
    Guarantees: the team can reach nothing it was not given and cannot widen that itself; its
    topics keep their records in prod (protected).
    """

    namespace_name: pulumi.Output[str]

    def __init__(self, name: str, args: TeamEnvironmentArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:teams:TeamEnvironment", name, None, opts)
        labels = object_labels(args.tags)
        ns_name = args.namespace
        namespace = PlatformNamespace(f"{name}-namespace", PlatformNamespaceArgs(
            name=ns_name, quota=args.quota, tags=args.tags,
            allow_from_namespaces=INGRESS_SOURCES, allow_from_pods=INGRESS_PODS,
            labels={TEAM_NAMESPACE_LABEL: args.team},
        ), pulumi.ResourceOptions(parent=self, depends_on=list(args.wait_for)))
        inside = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        meta = {"namespace": ns_name, "labels": labels}
        role = k8s.rbac.v1.Role(
            f"{name}-member-role",
            metadata={"name": "team-member", **meta},
            rules=[dict(r) for r in TEAM_MEMBER_RULES],
            opts=inside,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-member",
            metadata={"name": "team-member", **meta},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                      "name": "team-member"},
            subjects=[{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                       "name": args.group}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, role]),
        )
        k8s.core.v1.ServiceAccount(
            f"{name}-workload",
            metadata={"name": WORKLOAD_SERVICE_ACCOUNT, **meta,
                      "annotations": dict(args.service_account_annotations)},
            opts=inside,
        )
        self._egress(name, args, namespace)
        env: dict[str, pulumi.Input[str]] = {"TEAM": args.team}
        if args.mlflow_url is not None:
            env["MLFLOW_TRACKING_URI"] = args.mlflow_url
        if args.mlflow_workspace is not None:
            # The MLflow client sends it with every request (X-MLFLOW-WORKSPACE).
            env["MLFLOW_WORKSPACE"] = args.mlflow_workspace
        if args.store_uri is not None:
            env["TEAM_STORE_URI"] = args.store_uri
            env["TEAM_STORE_SERVICE_ACCOUNT"] = WORKLOAD_SERVICE_ACCOUNT
        if args.kafka is not None:
            env |= self._kafka(name, args, args.kafka, inside)
        k8s.core.v1.ConfigMap(
            f"{name}-environment",
            metadata={"name": ENVIRONMENT_CONFIGMAP, **meta},
            data=env,
            opts=inside,
        )
        self.namespace_name = namespace.namespace_name
        self.register_outputs({"namespace_name": self.namespace_name})

    def _egress(self, name: str, args: TeamEnvironmentArgs, namespace: pulumi.Resource) -> None:
        ns, tags = args.namespace, args.tags

        def allow(role: str, rules: list[dict]) -> None:
            network_policy(f"{name}-egress-{role}", f"allow-egress-{role}", ns, tags,
                           {"policyTypes": ["Egress"], "egress": rules}, self, [namespace])

        if args.store_uri is not None:
            # Cloud storage (and Entra ID's token endpoint on Azure) are public HTTPS endpoints
            # whose addresses change: everything public on 443, nothing private, is the
            # narrowest rule a NetworkPolicy can state; plus the store's private endpoint.
            to = [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(_PUBLIC_EXCEPT)}},
                  *({"ipBlock": {"cidr": c}} for c in args.store_private_cidrs)]
            allow("object-store", [{"to": to, "ports": [{"protocol": "TCP", "port": 443}]}])
            if args.identity_endpoints:
                allow("workload-identity", [
                    {"to": [{"ipBlock": {"cidr": c}}], "ports": [{"protocol": "TCP", "port": p}]}
                    for c, p in args.identity_endpoints])
        # MLflow and served models only through the Gateway, with a token: never around their
        # sign-on on the Service.
        gateway = [{"to": [{**in_namespace(GATEWAY_NAMESPACE),
                            "podSelector": {"matchLabels": dict(_GATEWAY_PROXY_PODS)}}],
                    "ports": [{"protocol": "TCP", "port": GATEWAY_PROXY_PORT}]}]
        if args.gateway_lb_cidrs:
            gateway.append({"to": [{"ipBlock": {"cidr": c}} for c in args.gateway_lb_cidrs],
                            "ports": [{"protocol": "TCP", "port": 443}]})
        allow("gateway", gateway)
        if args.kafka is not None:
            k = args.kafka
            network_policy(f"{name}-egress-kafka", "allow-egress-kafka", ns, tags,
                           {"policyTypes": ["Egress"], "egress": [{
                               "to": [{**in_namespace(k.namespace), "podSelector": {
                                   "matchLabels": {"strimzi.io/cluster": k.kafka_name,
                                                   "strimzi.io/broker-role": "true"}}}],
                               "ports": [{"protocol": "TCP", "port": INTERNAL_PORT}]}]},
                           self, [namespace])

    def _kafka(self, name: str, args: TeamEnvironmentArgs, k: TeamKafka,
               inside: pulumi.ResourceOptions) -> dict[str, str]:
        owned = {**object_labels(args.tags), "strimzi.io/cluster": k.kafka_name}
        after = pulumi.ResourceOptions(parent=self, protect=k.protect, depends_on=list(k.wait_for))
        for t in k.topics:
            kafka_topic(f"{name}-topic-{t.name}", t, k.namespace, owned, after)
        user = f"team-{args.team}"
        child = pulumi.ResourceOptions(parent=self)
        key = tls.PrivateKey(f"{name}-kafka-key", algorithm="ECDSA", ecdsa_curve="P256",
                             opts=child)
        # tls-external: the broker's principal is the certificate's whole subject, so it is
        # exactly CN=<user>, the name the User Operator writes the ACLs for.
        request = tls.CertRequest(f"{name}-kafka-request", private_key_pem=key.private_key_pem,
                                  subject=tls.CertRequestSubjectArgs(common_name=user),
                                  opts=child)
        cert = tls.LocallySignedCert(
            f"{name}-kafka-cert", cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=k.clients_ca_key_pem, ca_cert_pem=k.clients_ca_cert_pem,
            validity_period_hours=CLIENT_CERT_VALIDITY_HOURS,
            early_renewal_hours=CLIENT_CERT_RENEWAL_HOURS,
            allowed_uses=["digital_signature", "key_encipherment", "client_auth"], opts=child)
        kafka_user(user, f"{name}-kafka-user", k.namespace, k.kafka_name, object_labels(args.tags),
                   {"type": "tls-external"}, [a.body() for a in team_acls(f"{args.team}-")],
                   pulumi.ResourceOptions(parent=self, depends_on=list(k.wait_for)))
        k8s.core.v1.Secret(
            f"{name}-kafka-client",
            metadata={"name": KAFKA_CLIENT_SECRET, "namespace": args.namespace,
                      "labels": object_labels(args.tags)},
            type="Opaque",
            string_data={"user.crt": cert.cert_pem,
                         # PKCS#8: the form Kafka's PEM keystore (Java clients) reads.
                         "user.key": pulumi.Output.secret(key.private_key_pem_pkcs8),
                         "ca.crt": k.cluster_ca_cert_pem},
            opts=inside)
        return {"KAFKA_BOOTSTRAP_SERVERS": k.bootstrap, "KAFKA_TOPIC_PREFIX": f"{args.team}-",
                "KAFKA_CLIENT_SECRET": KAFKA_CLIENT_SECRET}


class TeamFolderArgs(BaseModel):
    """Arguments of a TeamFolder."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    team: str = Field(description="Team name.")
    namespace: str = Field(description="The team's namespace (what the dashboard shows).")
    monitoring_namespace: str = Field(description="Namespace the Grafana sidecar watches.")
    tags: StandardTags = Field(description="The team's tags, as labels.")
    queues: bool = Field(default=False, description="Show the team's work queues too.")
    notebooks: bool = Field(default=False, description="Show the team's notebook servers.")
    pipelines: bool = Field(default=False, description="Show the team's pipeline Jobs.")


class TeamFolder(pulumi.ComponentResource):
    """The team's folder `Team <name>` in the central Grafana, with its dashboard (a ConfigMap
    the Grafana sidecar loads into that folder)."""

    def __init__(self, name: str, args: TeamFolderArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:teams:TeamFolder", name, None, opts)
        k8s.core.v1.ConfigMap(
            f"{name}-dashboard",
            metadata={"name": f"dashboard-team-{args.team}", "namespace": args.monitoring_namespace,
                      "labels": {**object_labels(args.tags), DASHBOARD_LABEL[0]: DASHBOARD_LABEL[1]},
                      "annotations": {FOLDER_ANNOTATION: f"Team {args.team}"}},
            data={f"team-{args.team}.json": team_dashboard(
                args.team, args.namespace, args.queues, args.notebooks, args.pipelines)},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
