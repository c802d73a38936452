"""Kubernetes workload baseline: container rules, then every policy through the pack (one pack run)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes_workloads import (
    image_problem,
    k8s_drop_capabilities,
    k8s_no_privileged,
    pod_containers,
    rule_non_root,
)
from policy_testkit import (
    K8S,
    K8S_LABELS,
    Case,
    assert_case,
    case,
    case_id,
    findings,
    props,
    rec,
    run_cases,
)

HARDENED: dict[str, Any] = {
    "name": "app",
    "image": "registry.example.com:5000/ml/serve:1.4.2",
    "resources": {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    },
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    },
}


def container(**changes: Any) -> dict[str, Any]:
    """HARDENED with changes; a dotted key edits inside securityContext/resources, None deletes."""
    c = copy.deepcopy(HARDENED)
    for key, value in changes.items():
        *parents, leaf = key.split("__")
        target = c
        for p in parents:
            target = target.setdefault(p, {})
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return c


@pytest.mark.parametrize(
    "image, problem",
    [
        ("nginx:1.27.1", None),
        ("registry:5000/nginx", "has no tag"),
        ("nginx", "has no tag"),
        ("nginx:latest", "latest"),
        ("nginx@sha256:" + "a" * 64, None),
        ("", "has no image"),
    ],
)
def test_image_pinning(image: str, problem: str | None) -> None:
    got = image_problem(image)
    assert got is None if problem is None else problem in got


def test_containers_of_every_workload_shape() -> None:
    f, _ = findings()
    pod = {"containers": [HARDENED], "initContainers": [{**HARDENED, "name": "init"}]}
    cron = {"spec": {"jobTemplate": {"spec": {"template": {"spec": pod}}}}}
    assert [c.name for c in pod_containers("kubernetes:batch/v1:CronJob", props(cron), f)] == [
        "app",
        "init",
    ]
    assert [c.name for c in pod_containers("kubernetes:core/v1:Pod", props({"spec": pod}), f)] == [
        "app",
        "init",
    ]
    assert list(pod_containers("kubernetes:core/v1:ConfigMap", props({}), f)) == []


def test_run_as_non_root_container_overrides_pod() -> None:
    f, _ = findings()
    spec = {
        "spec": {
            "securityContext": {"runAsNonRoot": True},
            "containers": [
                container(securityContext__runAsNonRoot=None),
                container(name="root", securityContext__runAsNonRoot=False),
                container(name="uid0", securityContext__runAsUser=0),
            ],
        }
    }
    verdicts = [
        rule_non_root(c, f) for c in pod_containers("kubernetes:core/v1:Pod", props(spec), f)
    ]
    assert verdicts[0] is None and "runAsNonRoot" in verdicts[1] and "runAsUser is 0" in verdicts[2]


# --- through the pack ---------------------------------------------------------------------------------------


def deployment(name: str, *containers: dict[str, Any], pod_security: dict | None = None) -> dict:
    spec: dict[str, Any] = {"containers": list(containers)}
    if pod_security is not None:
        spec["securityContext"] = pod_security
    return rec(
        "kubernetes:apps/v1:Deployment",
        name,
        {
            "metadata": {"name": name, "namespace": "ml", "labels": K8S_LABELS},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
            },
        },
        provider=K8S,
    )


def cronjob(name: str, *containers: dict[str, Any]) -> dict:
    return rec(
        "kubernetes:batch/v1:CronJob",
        name,
        {
            "metadata": {"name": name, "labels": K8S_LABELS},
            "spec": {
                "schedule": "0 * * * *",
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {"restartPolicy": "Never", "containers": list(containers)}
                        }
                    }
                },
            },
        },
        provider=K8S,
    )


GOOD = deployment("wl-good", HARDENED)
CASES: list[Case] = []
for policy, bad, message in [
    ("k8s-no-privileged-containers", container(securityContext__privileged=True), "privileged"),
    (
        "k8s-no-privilege-escalation",
        container(securityContext__allowPrivilegeEscalation=None),
        "allowPrivilegeEscalation",
    ),
    ("k8s-run-as-non-root", container(securityContext__runAsNonRoot=None), "runAsNonRoot"),
    (
        "k8s-resource-requests-limits",
        container(resources__limits=None),
        "limits.memory (CKV_K8S_13)",
    ),
    ("k8s-image-pinned", container(image="ghcr.io/acme/trainer:latest"), "latest"),
    (
        "k8s-read-only-root-filesystem",
        container(securityContext__readOnlyRootFilesystem=False),
        "readOnlyRootFilesystem",
    ),
    (
        "k8s-drop-all-capabilities",
        container(securityContext__capabilities={"drop": ["NET_RAW"], "add": ["SYS_ADMIN"]}),
        "SYS_ADMIN",
    ),
    (
        "k8s-no-literal-credentials",
        container(env=[{"name": "LOG_LEVEL", "value": "info"},
                       {"name": "AWS_SECRET_ACCESS_KEY", "value": "wJalrXUtnFEMI/K7MDENG"}]),
        "AWS_SECRET_ACCESS_KEY",
    ),
]:
    short = policy.removeprefix("k8s-")
    CASES += [
        case(policy, "hardened-deployment", "pass", [GOOD]),
        case(policy, "deployment", "fail", [deployment(f"wl-{short}", bad)], message=message),
        case(policy, "cronjob", "fail", [cronjob(f"cj-{short}", bad)], message=message),
    ]

CASES += [
    case(
        "k8s-run-as-non-root",
        "pod-level-non-root",
        "pass",
        [
            deployment(
                "wl-pod-nonroot",
                container(securityContext__runAsNonRoot=None),
                pod_security={"runAsNonRoot": True},
            )
        ],
    ),
    case(
        "k8s-image-pinned",
        "digest",
        "pass",
        [deployment("wl-digest", container(image="nginx@sha256:" + "b" * 64))],
    ),
    case(
        "k8s-image-pinned",
        "image-unknown",
        "undecided",
        [deployment("wl-image-unknown", container(image="[unknown]"))],
    ),
    case(
        "k8s-no-privileged-containers",
        "init-container",
        "fail",
        [
            rec(
                "kubernetes:core/v1:Pod",
                "pod-init",
                {
                    "metadata": {"labels": K8S_LABELS},
                    "spec": {
                        "containers": [HARDENED],
                        "initContainers": [
                            container(name="setup", securityContext__privileged=True)
                        ],
                    },
                },
                provider=K8S,
            )
        ],
        message="setup",
    ),
]


CASES += [
    case(
        "k8s-no-literal-credentials",
        "from-secret",
        "pass",
        [deployment("wl-secret-ref", container(env=[
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "MLFLOW_PORT", "value": "5000"},
        ]))],
    ),
    case(
        "k8s-no-literal-credentials",
        "password-unknown",
        "undecided",
        [deployment("wl-secret-unknown", container(env=[{"name": "DB_PASSWORD", "value": "[unknown]"}]))],
    ),
]


@pytest.fixture(scope="module")
def result():
    return run_cases(CASES)


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_policy_through_the_pack(c: Case, result) -> None:
    assert_case(c, result)


def test_checkov_ids_are_published(result) -> None:
    assert k8s_no_privileged.framework.reference == "CKV_K8S_16"
    assert k8s_drop_capabilities.framework.reference == "CKV_K8S_28/CKV_K8S_37"
    infos = {p.name: p for p in result.policies}  # what the pack tells the CLI
    assert "CKV_K8S_16" in infos["k8s-no-privileged-containers"].tags
    assert "[Checkov CKV_K8S_23]" in infos["k8s-run-as-non-root"].description
    assert {"CKV_K8S_10", "CKV_K8S_11", "CKV_K8S_12", "CKV_K8S_13"} <= set(
        infos["k8s-resource-requests-limits"].tags
    )
    assert infos["k8s-resource-requests-limits"].enforcement_level == "advisory"
