"""A policy pack's settings as the CLI layers them: the pack's own levels, then the policy config file
(`--policy-pack-config`), each policy's config checked against its schema."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from pulumi.runtime.proto import analyzer_pb2 as pb

LEVELS = {pb.ADVISORY: "advisory", pb.MANDATORY: "mandatory", pb.REMEDIATE: "remediate",
          pb.DISABLED: "disabled"}


class PolicyConfigError(ValueError):
    """The policy config is invalid (where the CLI fails with "validating policy config")."""


PolicySettings = dict[str, tuple[str, dict[str, Any]]]  # policy -> (enforcement level or "", properties)


def parse_config(raw: dict[str, Any]) -> PolicySettings:
    out: PolicySettings = {}
    for name, value in raw.items():
        if isinstance(value, str):
            level, props = value, {}
        elif isinstance(value, dict):
            props = dict(value)
            level = props.pop("enforcementLevel", "")
        else:
            raise PolicyConfigError(f"{name!r}: {value!r} must be a string or an object")
        if level and level not in LEVELS.values():
            raise PolicyConfigError(f"{name!r}: {level!r} is not a valid enforcement level")
        if level or props:  # the CLI drops empty entries
            out[name] = (level, props)
    return out


def reconcile(policies: Any, *layers: PolicySettings) -> PolicySettings:
    schemas = {p.name: {"type": "object",
                        "properties": json_format.MessageToDict(p.configSchema.properties),
                        "required": list(p.configSchema.required)} for p in policies}
    result: PolicySettings = {p.name: (LEVELS[p.enforcementLevel], {
        k: s["default"] for k, s in schemas[p.name]["properties"].items() if "default" in s})
        for p in policies}
    for layer in layers:
        if layer.get("all", ("", {}))[0]:
            result = {k: (layer["all"][0], props) for k, (_, props) in result.items()}
        for name, (level, props) in layer.items():
            old_level, old_props = result.get(name, ("", {}))
            result[name] = (level or old_level, {**old_props, **props})
    errors = sorted(f"{name}: {error}" for name, schema in schemas.items()
                    for error in schema_errors(schema, result[name][1], "(root)"))
    if errors:
        raise PolicyConfigError("validating policy config:\n" + "\n".join(errors))
    return result


def schema_errors(schema: dict[str, Any], value: Any, where: str) -> list[str]:
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    want = schema.get("type")
    if want is not None and not any(
        is_number and (t == "number" or float(value).is_integer()) if t in ("number", "integer")
        else isinstance(value, kinds.get(t, object))
        for t in (want if isinstance(want, list) else [want])
    ):
        return [f"{where}: Invalid type. Expected: {want}, given: {type(value).__name__}"]
    errors = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: must be one of {schema['enum']}")
    if isinstance(value, dict):
        errors += [f"{key} is required" for key in schema.get("required", []) if key not in value]
        for key, sub in (schema.get("properties") or {}).items():
            if key in value and isinstance(sub, dict):
                errors += schema_errors(sub, value[key], key if where == "(root)" else
                                         f"{where}.{key}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            errors += schema_errors(schema["items"], item, f"{where}.{i}")
    return errors


def level_enum(name: str, level: str) -> int:
    for enum, text in LEVELS.items():
        if text == level:
            return enum
    # e.g. properties for a policy the pack lacks, without a level: the CLI's Configure refuses too
    raise PolicyConfigError(f"invalid enforcement level {level!r} for {name!r}")
