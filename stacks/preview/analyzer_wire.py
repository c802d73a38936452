"""Plan records as the Analyzer protocol carries them: inputs in wire form (secrets wrapped,
unknowns as the sentinel), resource options and the provider of each resource."""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as pb

from stacks.preview.offline import SECRET_SIG, UNKNOWN
from stacks.preview.offline import SIG_KEY as SECRET_KEY
from stacks.preview.plan_file import SECRET_TEXT, UNKNOWN_TEXT


def to_wire(value: Any, path: str, secret_paths: set[str]) -> Any:
    """The wire form; ``secret_paths`` gets ".a.0.b" paths, as pulumi_policy prints them."""
    if value == SECRET_TEXT:
        secret_paths.add(path)
        return {SECRET_KEY: SECRET_SIG, "value": UNKNOWN}
    if value == UNKNOWN_TEXT:
        return UNKNOWN
    if isinstance(value, dict):
        return {k: to_wire(v, f"{path}.{k}", secret_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [to_wire(v, f"{path}.{i}", secret_paths) for i, v in enumerate(value)]
    return value


def resource_options(r: dict[str, Any]) -> pb.AnalyzerResourceOptions:
    opts = r.get("options") or {}
    dbr, timeouts = opts.get("deleteBeforeReplace"), opts.get("customTimeouts") or {}
    return pb.AnalyzerResourceOptions(
        protect=bool(r.get("protect")), ignoreChanges=opts.get("ignoreChanges") or [],
        deleteBeforeReplace=bool(dbr), deleteBeforeReplaceDefined=dbr is not None,
        additionalSecretOutputs=opts.get("additionalSecretOutputs") or [],
        aliases=[a for a in opts.get("aliases") or [] if isinstance(a, str)],
        parent=r.get("parent") or "",
        customTimeouts=pb.AnalyzerResourceOptions.CustomTimeouts(**{
            k: float(v) for k, v in timeouts.items() if k in ("create", "update", "delete") and v}))


def provider_record(r: dict[str, Any], by_urn: dict[str, Any],
              wire: dict[str, struct_pb2.Struct]) -> pb.AnalyzerProviderResource | None:
    ref = r.get("provider") or ""
    prov = by_urn.get(ref) or by_urn.get(ref.rsplit("::", 1)[0])  # also "urn::id" references
    if prov is None:
        return None
    return pb.AnalyzerProviderResource(type=prov["type"], urn=prov["urn"],
                                       name=prov["urn"].split("::")[-1],
                                       properties=wire[prov["urn"]])
