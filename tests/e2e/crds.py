"""The CustomResourceDefinitions the platform's custom resources need, from the operators' modules.

As envtest does it: the CRD YAML each operator publishes in its Go module, at the version pinned
in toolchain/versions.env (the charts' versions where the proxy serves them). Strimzi (Kafka) is
a Java project with no Go module, so its CRDs are not available here: its objects are reported,
never sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import yaml

from tests.e2e.apiserver import Client
from tests.e2e.binaries import module_dir, versions


@dataclass(frozen=True)
class CrdSource:
    name: str
    key: str  # versions.env holds <key>_MODULE and <key>_VERSION
    globs: tuple[str, ...]  # inside the module

    @property
    def module(self) -> str:
        return versions()[f"{self.key}_MODULE"]

    @property
    def version(self) -> str:
        return versions()[f"{self.key}_VERSION"]


SOURCES = (
    CrdSource("gateway-api", "GATEWAY_API",
              # The channel Envoy Gateway's chart installs (its gatewayapi-crds.yaml).
              ("config/crd/experimental/gateway.networking.k8s.io_*.yaml",
               "config/crd/experimental/gateway.networking.x-k8s.io_*.yaml")),
    CrdSource("envoy-gateway", "ENVOY_GATEWAY",
              ("charts/gateway-helm/crds/generated/*.yaml",)),
    CrdSource("cert-manager", "CERT_MANAGER",
              ("deploy/crds/*.yaml",)),
    CrdSource("prometheus-operator", "PROMETHEUS_OPERATOR", ("example/prometheus-operator-crd/*.yaml",)),
    CrdSource("cloudnative-pg", "CLOUDNATIVE_PG",
              ("config/crd/bases/*.yaml",)),
    CrdSource("kueue", "KUEUE", ("config/components/crd/bases/*.yaml",)),
    CrdSource("jobset", "JOBSET", ("config/components/crd/bases/*.yaml",)),
    CrdSource("kuberay", "KUBERAY",
              ("config/crd/bases/*.yaml",)),
)

#: API groups whose CRDs no Go module publishes (the operator is not written in Go).
UNAVAILABLE = {"kafka.strimzi.io": "Strimzi is a Java project: no Go module publishes its CRDs"}


class _Loader(yaml.SafeLoader):
    """YAML as Kubernetes reads it: a bare `=` is the string "=", not PyYAML's `value` tag."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:value"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(source: CrdSource) -> list[dict[str, Any]]:
    root = module_dir(source.module, source.version)
    docs = []
    for pattern in source.globs:
        for path in sorted(root.glob(pattern)):
            docs += [d for d in yaml.load_all(path.read_text(), Loader=_Loader) if d
                     and d.get("kind") == "CustomResourceDefinition"]
    if not docs:
        raise RuntimeError(f"no CRDs in {source.module} ({', '.join(source.globs)}) under {root}")
    return docs


@dataclass
class Installed:
    by_source: dict[str, list[str]]  # source name -> CRD names
    kinds: set[tuple[str, str]]  # (group, kind) served


def install(client: Client, timeout: float = 180.0) -> Installed:
    """Apply every source's CRDs for real, wait until each is Established and discovered."""
    by_source: dict[str, list[str]] = {}
    crds = []
    for source in SOURCES:
        docs = load(source)
        by_source[f"{source.name} v{source.version}"] = [d["metadata"]["name"] for d in docs]
        crds += docs
    for crd in crds:
        r = client.apply(crd, dry_run=False)
        if r.status >= 300:
            raise RuntimeError(f"CRD {crd['metadata']['name']} refused: {r.message}")
    deadline = time.monotonic() + timeout
    pending = {c["metadata"]["name"] for c in crds}
    while pending and time.monotonic() < deadline:
        for name in sorted(pending):
            r = client.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
            conds = {c["type"]: c["status"] for c in r.body.get("status", {}).get("conditions", [])}
            if conds.get("Established") == "True":
                pending.discard(name)
        time.sleep(0.5)
    if pending:
        raise RuntimeError(f"CRDs not Established after {timeout:.0f}s: {sorted(pending)}")
    kinds = {(c["spec"]["group"], c["spec"]["names"]["kind"]) for c in crds}
    served = {(c["spec"]["group"] + "/" + v["name"], c["spec"]["names"]["kind"])
              for c in crds for v in c["spec"]["versions"] if v.get("served")}
    while time.monotonic() < deadline:
        client.discover()
        if served <= set(client.resources):
            break
        time.sleep(0.5)
    else:
        raise RuntimeError(f"not discoverable: {sorted(served - set(client.resources))}")
    return Installed(by_source, kinds)
