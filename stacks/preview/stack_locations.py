"""Where in `Pulumi.<stack>.yaml` a resource comes from: the line of the config key that built it.

Code scanning places an alert on a line, so a policy violation is located at the
stack-file entry whose config produced the resource (the store, the network of a
region, a GPU pool, a service, a team), found in two steps:

1. the component kinds in the resource's URN type chain (`hybridml:aws:ArtifactStore$aws:s3/...`)
   name the config section the component is built from (`_SECTIONS`, innermost kind first);
2. within that section, descend while a mapping key or a list entry's `name` (or a
   scalar list item, like a region) appears as a dash-separated part of the resource's
   name: children are named `f"{parent}-<role>"`, so the name carries every identifier
   of the chain (`datasets-aws-eu-west-1-bucket` -> `storage.stores[name=datasets]`).

A resource of no known kind, or a stack-wide violation, is located at line 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

#: Component kind (last part of its type token) -> the platform config section it is built from.
_SECTIONS: dict[str, tuple[str, ...]] = {
    "ArtifactStore": ("storage", "stores"),
    "Network": ("network",),
    "SiteVpn": ("network",),
    "BlobPrivateDns": ("network",),
    "LogAccount": ("network",),
    "KubernetesCluster": ("kubernetes",),
    "GpuNodePool": ("kubernetes",),
    "ClusterAddons": ("kubernetes",),
    "PlatformNamespace": ("kubernetes", "namespaces"),
    "TrackingServer": ("services", "mlflow"),
    "PostgresDatabase": ("services", "mlflow"),
    "OnPremPostgres": ("services", "mlflow"),
    "StoreAccess": ("services", "mlflow"),
    "CloudNativePgOperator": ("services", "mlflow"),
    "KafkaCluster": ("services", "kafka"),
    "KafkaMirror": ("services", "kafka"),
    "StrimziOperator": ("services", "kafka"),
    "ModelServing": ("services", "serving"),
    "PublicGateway": ("services", "serving"),
    "FailoverDns": ("services", "serving"),
    "PublicAddress": ("services", "serving"),
    "ClusterMonitoring": ("services", "monitoring"),
    "Team": ("teams",),
    "TeamEnvironment": ("teams",),
    "TeamFolder": ("teams",),
    "TeamClusterAccess": ("teams",),
}
#: Providers are made per configured site and region.
_PROVIDER_SECTION = ("sites",)


class StackLocator:
    """Line numbers (1-based) of the config keys in one stack file."""

    def __init__(self, stack_path: Path) -> None:
        self._platform: Any = None
        self._platform_line = 1
        try:
            doc = YAML().load(stack_path.read_text(encoding="utf-8"))
        except (OSError, YAMLError):
            return  # the preview reports an unreadable stack file itself; here line 1 it is
        config = doc.get("config") if isinstance(doc, CommentedMap) else None
        if not isinstance(config, CommentedMap):
            return
        for key in config:  # `<project>:platform`, or `platform` in the project's own namespace
            if isinstance(key, str) and (key == "platform" or key.endswith(":platform")):
                self._platform = config[key]
                self._platform_line = config.lc.key(key)[0] + 1
                break

    def line_of(self, urn: str | None) -> int:
        """The line of the most specific config key behind the resource `urn`; 1 if none maps."""
        found = _section(urn) if urn else None
        if found is None or self._platform is None:
            return 1
        section, section_stands_for_it = found
        node, line = self._platform, self._platform_line
        for key in section:
            if not isinstance(node, CommentedMap) or key not in node:
                return line if section_stands_for_it else 1
            line = node.lc.key(key)[0] + 1
            node = node[key]
        parts = f"-{urn.rsplit('::', 1)[-1]}-"  # type: ignore[union-attr]
        matched = False
        while (child := _matching_child(node, parts)) is not None:
            (node, line), matched = child, True
        return line if matched or section_stands_for_it else 1


def _section(urn: str) -> tuple[tuple[str, ...], bool] | None:
    """The config section behind `urn`, and whether the section itself may stand for it."""
    type_chain = urn.split("::")[2].split("$")
    for token in reversed(type_chain):
        if (section := _SECTIONS.get(token.rsplit(":", 1)[-1])) is not None:
            return section, True
    if type_chain[-1].startswith("pulumi:providers:"):
        # only a provider of a configured site or region (not `random`, `tls`) has a key
        return _PROVIDER_SECTION, False
    return None


def _identifier(key: Any, value: Any) -> str | None:
    if isinstance(value, CommentedMap) and isinstance(value.get("name"), str):
        return value["name"]
    return key if isinstance(key, str) else None


def _matching_child(node: Any, parts: str) -> tuple[Any, int] | None:
    """The child whose identifier is part of the name (the longest, being the most specific)."""
    candidates: list[tuple[str, Any, int]] = []
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            ident = _identifier(key, value)
            if ident:
                candidates.append((ident, value, node.lc.key(key)[0] + 1))
            if isinstance(value, CommentedSeq):  # list entries are matched without their key
                candidates.extend(_list_candidates(value))
    elif isinstance(node, CommentedSeq):
        candidates.extend(_list_candidates(node))
    matches = [(ident, value, line) for ident, value, line in candidates if f"-{ident}-" in parts]
    if not matches:
        return None
    _, value, line = max(matches, key=lambda m: len(m[0]))
    return value, line


def _list_candidates(seq: CommentedSeq) -> list[tuple[str, Any, int]]:
    found = []
    for index, item in enumerate(seq):
        ident = _identifier(None, item) if isinstance(item, CommentedMap) else (
            item if isinstance(item, str) else None)
        if ident:
            found.append((ident, item, seq.lc.item(index)[0] + 1))
    return found
