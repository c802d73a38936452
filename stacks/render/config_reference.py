"""The stack config reference as Markdown, generated from the JSON Schema of the config model
(`hybrid-ml schema --markdown`); docs/config-reference.md carries it between markers
(`hybrid-ml schema --write` refreshes it) and a test keeps it equal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stacks.config.platform import CONFIG_KEY, PROJECT, PlatformConfig

START = "<!-- config-reference:start (hybrid-ml schema --markdown) -->"
END = "<!-- config-reference:end -->"


def _type(node: dict[str, Any], defs: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """A short type name, and the object schema to descend into (if any)."""
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        return ("object" if target.get("type") == "object" else _type(target, defs)[0]), (
            target if target.get("type") == "object" else None)
    if "anyOf" in node:
        parts = [p for p in node["anyOf"] if p.get("type") != "null"]
        if len(parts) == 1:
            return _type(parts[0], defs)
        return " or ".join(_type(p, defs)[0] for p in parts), None
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"]), None
    if "const" in node:
        return f"`{node['const']}`", None
    kind = node.get("type", "any")
    if kind == "array":
        inner, obj = _type(node.get("items", {}), defs)
        return f"list of {inner}", obj
    if kind == "object" and "additionalProperties" in node and not node.get("properties"):
        inner, obj = _type(node["additionalProperties"], defs)
        return f"map of {inner}", obj
    if kind == "object":
        return "object", node
    return str(kind), None


def _rows(schema: dict[str, Any], defs: dict[str, Any], path: str,
          out: list[str], seen: tuple[str, ...]) -> None:
    required = set(schema.get("required", []))
    for key, node in schema.get("properties", {}).items():
        kind, obj = _type(node, defs)
        default = node.get("default")
        shown = "required" if key in required else (
            f"`{default}`" if default not in (None, [], {}) else "")
        text = " ".join((node.get("description") or "").split()).replace("|", "\\|")
        full = f"{path}.{key}"
        if kind.startswith(("list of object", "map of object")):
            full_child = f"{full}[]" if kind.startswith("list") else f"{full}.<name>"
        else:
            full_child = full
        out.append(f"| `{full}` | {kind} | {shown} | {text} |")
        title = (obj or {}).get("title", "")
        if obj is not None and title not in seen:
            _rows(obj, defs, full_child, out, (*seen, title))


def config_reference() -> str:
    schema = PlatformConfig.model_json_schema(by_alias=True)
    defs = schema.get("$defs", {})
    out = ["| key | type | default | meaning |", "|---|---|---|---|"]
    _rows(schema, defs, f"{PROJECT}:{CONFIG_KEY}", out, ("PlatformConfig",))
    return "\n".join(out) + "\n"


#: The document that carries the reference, relative to the project directory.
REFERENCE_DOC = Path("docs/config-reference.md")


def refresh_reference(path: Path) -> bool:
    """Replace the reference between the markers in `path`; True if it changed."""
    text = path.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise ValueError(f"{path} has no config reference markers ({START} ... {END})")
    head, rest = text.split(START + "\n", 1)
    _, tail = rest.split(END, 1)
    new = head + START + "\n" + config_reference() + END + tail
    path.write_text(new, encoding="utf-8")
    return new != text
