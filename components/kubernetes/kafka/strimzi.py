"""Strimzi objects more than one component creates: KafkaTopics, KafkaUsers and the Secrets of
generated passwords (used by the cluster, the cross-site mirror and team environments)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.kafka.specs import API, KafkaTopicSpec


def topic_spec(topic: KafkaTopicSpec) -> dict:
    """`spec` of a KafkaTopic."""
    return {"partitions": topic.partitions, "replicas": topic.replicas,
            "config": {"retention.ms": topic.retention_ms, "cleanup.policy": topic.cleanup_policy,
                       "min.insync.replicas": topic.min_insync_replicas}}


def user_spec(authentication: dict, acls: list[dict]) -> dict:
    """`spec` of a KafkaUser with `simple` ACLs (v1: `operations` lists)."""
    return {"authentication": authentication, "authorization": {"type": "simple", "acls": acls}}


def scram_authentication(password_secret: str) -> dict:
    """SCRAM-SHA-512 with the password the program generated (not one the operator invents)."""
    return {"type": "scram-sha-512",
            "password": {"valueFrom": {"secretKeyRef": {"name": password_secret,
                                                        "key": "password"}}}}


def kafka_topic(resource_name: str, topic: KafkaTopicSpec, namespace: str,
                labels: dict[str, str], opts: pulumi.ResourceOptions,
                ) -> k8s.apiextensions.CustomResource:
    """A KafkaTopic; `labels` carry `strimzi.io/cluster` (the Topic Operator's selector)."""
    return k8s.apiextensions.CustomResource(
        resource_name, api_version=API, kind="KafkaTopic",
        metadata={"name": topic.name, "namespace": namespace, "labels": labels},
        spec=topic_spec(topic),
        opts=opts)


def kafka_user(name: str, resource_name: str, namespace: str, kafka_name: str,
               labels: dict[str, str], authentication: dict, acls: list[dict],
               opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    """A KafkaUser of `kafka_name` with `simple` ACLs (v1: `operations` lists)."""
    return k8s.apiextensions.CustomResource(
        resource_name, api_version=API, kind="KafkaUser",
        metadata={"name": name, "namespace": namespace,
                  "labels": {**labels, "strimzi.io/cluster": kafka_name}},
        spec=user_spec(authentication, acls),
        opts=opts)


def password_secret(resource_name: str, name: str, namespace: str, labels: dict[str, str],
                    password: pulumi.Input[str],
                    opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
    """A Secret holding one generated password under key `password`."""
    return k8s.core.v1.Secret(
        resource_name, metadata={"name": name, "namespace": namespace, "labels": labels},
        type="Opaque", string_data={"password": password}, opts=opts)
