"""Every Kubernetes object the program would apply, per cluster, checked against the schemas.

From the plan: each `kubernetes:*` resource is one object (its inputs are the object itself),
placed on a cluster by its provider's `clusterIdentifier`. Helm releases cannot be rendered
offline (their charts live on the internet), so they are listed with chart, version and values
instead. Core objects are validated against the strict Kubernetes JSON schemas of the cluster's
version (bundled by `kubernetes-validate`); custom resources (cert-manager, Gateway API) have no
bundled schema and are counted as such.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from kubernetes_validate import utils as kv
from referencing import Registry, Resource

from stacks.preview.plan_file import SECRET_TEXT, UNKNOWN_TEXT

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
PROVIDER = "pulumi:providers:kubernetes"
CLUSTER_SCOPED = "_cluster"
_PLACEHOLDERS = (SECRET_TEXT, UNKNOWN_TEXT)
#: First in every manifest, as `kubectl` shows objects; every other key follows sorted.
MANIFEST_HEAD = ("apiVersion", "kind", "metadata")


@dataclass(frozen=True)
class KubeObject:
    cluster: str
    namespace: str  # CLUSTER_SCOPED for cluster-scoped objects
    kind: str
    name: str
    urn: str
    body: dict[str, Any]
    patch: bool  # a server-side apply patch of an object that already exists (e.g. a Node)

    @property
    def path(self) -> Path:
        return Path(self.cluster) / self.namespace / f"{self.kind.lower()}-{self.name}.yaml"


def _clusters_by_provider(plan: dict[str, Any]) -> dict[str, str]:
    out = {}
    for r in plan["resources"]:
        if r["type"] == PROVIDER:
            ident = r["inputs"].get("clusterIdentifier")
            out[r["urn"]] = ident if isinstance(ident, str) and ident not in _PLACEHOLDERS else r["name"]
    return out


def _object_inputs(r: dict[str, Any]) -> dict[str, Any]:
    # Wire inputs are the object; the SDK adds nothing else for typed Kubernetes resources.
    return {k: v for k, v in r["inputs"].items() if not k.startswith("__")}


def kubernetes_objects(plan: dict[str, Any]) -> list[KubeObject]:
    """Every Kubernetes object in the plan (not Helm releases), with its cluster."""
    clusters = _clusters_by_provider(plan)
    out = []
    for r in plan["resources"]:
        if not r["custom"] or not r["type"].startswith("kubernetes:") or r["type"] == HELM_RELEASE:
            continue
        body = _object_inputs(r)
        meta = body.get("metadata") or {}
        out.append(KubeObject(
            cluster=clusters.get(r["provider"] or "", "_unknown-cluster"),
            namespace=meta.get("namespace") or CLUSTER_SCOPED,
            kind=str(body.get("kind", r["type"].rsplit(":", 1)[-1])),
            name=str(meta.get("name") or r["name"]),
            urn=r["urn"],
            body=body,
            patch=r["type"].endswith("Patch"),
        ))
    return out


def helm_releases(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Each Helm release: cluster, name, namespace, chart, repository, version and values."""
    clusters = _clusters_by_provider(plan)
    out = []
    for r in plan["resources"]:
        if r["type"] != HELM_RELEASE:
            continue
        i = r["inputs"]
        out.append({
            "cluster": clusters.get(r["provider"] or "", "_unknown-cluster"),
            "name": i.get("name", r["name"]),
            "namespace": i.get("namespace", "default"),
            "chart": i.get("chart"),
            "repository": (i.get("repositoryOpts") or {}).get("repo"),
            "version": i.get("version"),
            "values": i.get("values") or {},
            "urn": r["urn"],
        })
    return sorted(out, key=lambda x: (x["cluster"], x["namespace"], x["name"]))


class _Schemas:
    """Strict schemas of one Kubernetes version, loaded once per kind."""

    def __init__(self, version: str):
        known = [v for v in kv.all_versions() if kv.major_minor(v) == version]
        if not known:
            raise ValueError(f"no bundled Kubernetes schemas for {version}")
        self.dir = f"kubernetes-json-schema/v{known[-1]}-local-strict"
        defs = kv.schema_contents(f"{self.dir}/_definitions.json", version)
        self.version = version
        self.registry = Resource.from_contents(defs) @ Registry()
        self.cache: dict[str, jsonschema.protocols.Validator | None] = {}

    def validator(self, api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
        group = api_version.split("/")[0].split(".")[0] + "-" if "/" in api_version else ""
        key = f"{kind.lower()}-{group}{api_version.rsplit('/', 1)[-1]}"
        if key not in self.cache:
            try:
                schema = kv.schema_contents(f"{self.dir}/{key}.json", self.version)
            except FileNotFoundError:
                self.cache[key] = None  # a custom resource: no bundled schema
            else:
                registry = Resource.from_contents(schema) @ self.registry
                self.cache[key] = jsonschema.Draft202012Validator(schema, registry=registry)
        return self.cache[key]


def _field(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(the object)"


def _pending(error: jsonschema.ValidationError) -> bool:
    # A value known only after `pulumi up` (or a secret) is not wrong, just not known yet.
    return error.instance in _PLACEHOLDERS


@dataclass
class ValidationResult:
    validated: int
    custom: int  # objects of kinds without a bundled schema (CRDs)
    errors: list[str]


def validate_objects(objects: list[KubeObject], versions: dict[str, str]) -> ValidationResult:
    """Check every core object against its cluster version's strict schema."""
    schemas: dict[str, _Schemas] = {}
    result = ValidationResult(0, 0, [])
    for obj in objects:
        version = versions.get(obj.cluster)
        if version is None:
            result.errors.append(f"{obj.urn}: on unknown cluster {obj.cluster!r}")
            continue
        if version not in schemas:
            schemas[version] = _Schemas(version)
        validator = schemas[version].validator(str(obj.body.get("apiVersion", "")), obj.kind)
        if validator is None:
            result.custom += 1
            continue
        result.validated += 1
        for error in sorted(validator.iter_errors(obj.body), key=lambda e: list(e.absolute_path)):
            if _pending(error):
                continue
            result.errors.append(
                f"{obj.cluster}: {obj.kind} {obj.namespace}/{obj.name}: field {_field(error)}: "
                f"{error.message} (Kubernetes {version} schema)")
    return result


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted_keys(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]  # list order is meaning (containers, rules)
    return value


def manifest_body(body: dict[str, Any]) -> dict[str, Any]:
    """The object with a stable key order: `MANIFEST_HEAD` first, then sorted, at every level.

    A manifest's text then depends only on its content, not on the order the program or the
    SDK happened to build its dictionaries in, so two previews of one config are identical.
    """
    rest = _sorted_keys(body)
    return {**{k: rest.pop(k) for k in MANIFEST_HEAD if k in rest}, **rest}


def write_manifests(plan: dict[str, Any], out_dir: Path) -> Path:
    """Write DIR/manifests/<cluster>/<namespace>/<kind>-<name>.yaml and helm-releases.yaml."""
    root = out_dir / "manifests"
    if root.exists():
        shutil.rmtree(root)  # objects removed from the program must not linger
    for obj in kubernetes_objects(plan):
        path = root / obj.path
        path.parent.mkdir(parents=True, exist_ok=True)
        head = f"# {obj.urn}\n"
        if obj.patch:
            head += "# server-side apply patch of an existing object\n"
        path.write_text(head + yaml.safe_dump(manifest_body(obj.body), sort_keys=False),
                        encoding="utf-8")
    releases = plan["helmReleases"]  # listed by the preview (`helm_releases`)
    for cluster in sorted({r["cluster"] for r in releases}):
        mine = [{k: _sorted_keys(v) if k == "values" else v for k, v in r.items() if k != "cluster"}
                for r in releases if r["cluster"] == cluster]
        path = root / cluster / "helm-releases.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# Helm releases (rendered by Helm at `pulumi up`; charts are fetched then)\n"
                        + yaml.safe_dump(mine, sort_keys=False), encoding="utf-8")
    return root
