"""KafkaCluster: one KRaft Kafka cluster with its CAs, topics, users, metrics and network rules.

The constructor reads as a table of contents; each step is a module-level builder below, and
every spec comes from the pure functions of `kafka_spec.py`.
"""

from __future__ import annotations

from typing import NamedTuple

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_tls as tls

from components.kubernetes.kafka.kafka_spec import (
    CA_ROLES,
    KafkaClusterArgs,
    ca_secret_metadata,
    cross_site_bootstrap,
    internal_bootstrap,
    kafka_spec,
    network_rules,
    node_pools,
    owned_labels,
    pod_monitor_spec,
    pool_spec,
)
from components.kubernetes.kafka.metrics import metrics_config_data, metrics_config_name
from components.kubernetes.kafka.specs import API
from components.kubernetes.kafka.strimzi import (
    kafka_topic,
    kafka_user,
    password_secret,
    scram_authentication,
)
from components.kubernetes.objects import MONITORING_API, network_policy, object_labels

_CA_USES = ["cert_signing", "crl_signing", "digital_signature"]


class CertificateAuthority(NamedTuple):
    """A CA the program generated: its certificate, its key (secret) and Strimzi's Secrets."""

    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]
    secrets: list[pulumi.Resource]


class KafkaCluster(pulumi.ComponentResource):
    """A KRaft Kafka cluster with its CAs, topics, users, metrics and network rules.

    Guarantees: TLS on every listener (mTLS inside the cluster, SCRAM-SHA-512 across sites),
    `simple` authorization, replication factor 3 and min ISR 2 for every internal topic and by
    default, no topic auto-creation, brokers spread over zones (rack awareness), volumes on
    the encrypted default StorageClass kept when the cluster is deleted. The CA keys exist only
    in the Pulumi state (secret) and in this namespace; in prod the CAs, the cluster, its node
    pools and topics are protected.
    Caller opts: providers=[the cluster's Kubernetes provider, tls provider, random provider].
    """

    kafka_name: str
    namespace: str
    bootstrap_internal: str
    bootstrap_cross_site: str
    cluster_ca_cert_pem: pulumi.Output[str]
    kafka: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: KafkaClusterArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:kafka:KafkaCluster", name, None, opts)
        k, ns = args.kafka_name, args.namespace
        labels = object_labels(args.tags)
        owned = owned_labels(labels, k)

        cas = {role: certificate_authority(name, role, args, labels, self) for role in CA_ROLES}
        metrics = k8s.core.v1.ConfigMap(
            f"{name}-metrics", metadata={"name": metrics_config_name(k), "namespace": ns,
                                         "labels": owned},
            data=metrics_config_data(), opts=pulumi.ResourceOptions(parent=self))
        pools = kafka_node_pools(name, args, owned, self)
        ca_secrets = [s for role in CA_ROLES for s in cas[role].secrets]
        self.kafka = k8s.apiextensions.CustomResource(
            f"{name}-kafka", api_version=API, kind="Kafka",
            metadata={"name": k, "namespace": ns, "labels": labels},
            spec=kafka_spec(args, metrics_config=metrics_config_name(k)),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect,
                                        depends_on=[*ca_secrets, metrics, *pools]))
        after = pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=[self.kafka])
        for t in args.topics:
            kafka_topic(f"{name}-topic-{t.name}", t, ns, owned, after)
        #: Generated SCRAM passwords by user, for the clients at other sites (secret outputs).
        self.scram_passwords: dict[str, pulumi.Output[str]] = kafka_users(
            name, args, labels, self.kafka, self)
        for rule in network_rules(args):
            network_policy(f"{name}-{rule.role}", rule.name, ns, args.tags, rule.spec, self,
                           pod_selector=rule.pod_selector)
        if args.monitoring_crd is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-pod-monitor", api_version=MONITORING_API, kind="PodMonitor",
                metadata={"name": f"{k}-kafka", "namespace": ns, "labels": owned},
                spec=pod_monitor_spec(k, ns),
                opts=pulumi.ResourceOptions(parent=self,
                                            depends_on=[args.monitoring_crd, self.kafka]))

        self.kafka_name, self.namespace = k, ns
        self.bootstrap_internal = internal_bootstrap(k, ns)
        self.bootstrap_cross_site = cross_site_bootstrap(args.cluster_name, args.base_domain)
        self.cluster_ca_cert_pem = cas["cluster"].cert_pem
        #: The clients CA (key secret): signs certificates of `tls-external` users (team clients)
        #: that the program issues itself, so no Secret is ever copied between namespaces.
        self.clients_ca_cert_pem = cas["clients"].cert_pem
        self.clients_ca_key_pem = cas["clients"].key_pem
        self.register_outputs({"bootstrap_internal": self.bootstrap_internal,
                               "bootstrap_cross_site": self.bootstrap_cross_site,
                               "cluster_ca_cert_pem": self.cluster_ca_cert_pem})


def certificate_authority(name: str, role: str, args: KafkaClusterArgs, labels: dict[str, str],
                          parent: pulumi.Resource) -> CertificateAuthority:
    """The `role` CA (cluster or clients): an RSA key, a self-signed CA certificate and the
    two Secrets through which Strimzi uses it instead of generating its own."""
    protected = pulumi.ResourceOptions(parent=parent, protect=args.protect)
    child = pulumi.ResourceOptions(parent=parent)
    key = tls.PrivateKey(f"{name}-{role}-ca-key", algorithm="RSA", rsa_bits=4096, opts=protected)
    cert = tls.SelfSignedCert(
        f"{name}-{role}-ca-cert",
        private_key_pem=key.private_key_pem,
        subject=tls.SelfSignedCertSubjectArgs(
            common_name=f"{args.cluster_name} kafka {role} CA",
            organization="hybrid-ml-platform",
            # A new generation changes the subject, which re-issues the certificate.
            serial_number=str(args.ca_generation)),
        is_ca_certificate=True, max_path_length=0, set_subject_key_id=True,
        validity_period_hours=args.ca_validity_days * 24, allowed_uses=_CA_USES, opts=protected)
    secrets: list[pulumi.Resource] = [
        k8s.core.v1.Secret(f"{name}-{role}-ca-cert-secret",
                           metadata=ca_secret_metadata(args, role, "cert", labels),
                           type="Opaque", string_data={"ca.crt": cert.cert_pem}, opts=child),
        k8s.core.v1.Secret(f"{name}-{role}-ca-key-secret",
                           metadata=ca_secret_metadata(args, role, "key", labels),
                           type="Opaque", string_data={"ca.key": key.private_key_pem}, opts=child),
    ]
    return CertificateAuthority(cert.cert_pem, pulumi.Output.secret(key.private_key_pem), secrets)


def kafka_node_pools(name: str, args: KafkaClusterArgs, owned: dict[str, str],
                     parent: pulumi.Resource) -> list[k8s.apiextensions.CustomResource]:
    """One KafkaNodePool per pool of the layout (protected in prod: they own the volumes)."""
    stateful = pulumi.ResourceOptions(parent=parent, protect=args.protect)
    return [k8s.apiextensions.CustomResource(
        f"{name}-pool-{pool.name}", api_version=API, kind="KafkaNodePool",
        metadata={"name": pool.name, "namespace": args.namespace, "labels": owned,
                  "annotations": {"strimzi.io/next-node-ids": pool.node_ids}},
        spec=pool_spec(args, pool), opts=stateful)
        for pool in node_pools(args.sizing)]


def kafka_users(name: str, args: KafkaClusterArgs, labels: dict[str, str],
                kafka: pulumi.Resource, parent: pulumi.Resource) -> dict[str, pulumi.Output[str]]:
    """A KafkaUser per user; SCRAM users get a generated password in a Secret first. Returns
    those passwords by user (secret outputs)."""
    child = pulumi.ResourceOptions(parent=parent)
    passwords: dict[str, pulumi.Output[str]] = {}
    for u in args.users:
        deps: list[pulumi.Resource] = [kafka]
        if u.authentication == "scram-sha-512":
            password = random.RandomPassword(f"{name}-user-{u.name}-password", length=32,
                                             special=False, opts=child)
            passwords[u.name] = pulumi.Output.secret(password.result)
            deps.append(password_secret(f"{name}-user-{u.name}-secret", f"{u.name}-password",
                                        args.namespace, labels, password.result, child))
            auth = scram_authentication(f"{u.name}-password")
        else:
            auth = {"type": "tls"}
        kafka_user(u.name, f"{name}-user-{u.name}", args.namespace, args.kafka_name, labels, auth,
                   [a.body() for a in u.acls],
                   pulumi.ResourceOptions(parent=parent, depends_on=deps))
    return passwords
