"""Grafana dashboards shipped as code: JSON files next to this module, one ConfigMap each.

Grafana's dashboard sidecar (central cluster) loads every ConfigMap in the monitoring namespace
labelled `grafana_dashboard: "1"`. Dashboards query the central Prometheus, which holds every
cluster's series; each has a `cluster` template variable so one view spans every site.

What depends on the stack's config (the serving namespace) is a hidden `constant` template
variable in the JSON (`${serving_namespace}` in queries), set from config at load time.
Grafana keeps no state of its own: edits made in the UI are lost when its pod restarts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"
#: The label (and value) the Grafana sidecar selects dashboard ConfigMaps by.
DASHBOARD_LABEL = ("grafana_dashboard", "1")
#: A dashboard ConfigMap with this annotation lands in the Grafana folder it names (the
#: sidecar writes it into that subdirectory; Grafana makes folders from the file structure).
FOLDER_ANNOTATION = "grafana_folder"


def _check(name: str, text: str) -> None:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"dashboard {name} is not valid JSON: {err}") from None
    variables = [v.get("name") for v in doc.get("templating", {}).get("list", [])]
    if "cluster" not in variables:
        raise ValueError(f"dashboard {name} has no `cluster` template variable")
    if not doc.get("uid") or not doc.get("title"):
        raise ValueError(f"dashboard {name} needs a uid and a title")


def _set_constants(doc: dict, constants: Mapping[str, str]) -> bool:
    """Set the dashboard's `constant` variables named in `constants`; True if any was."""
    changed = False
    for var in doc.get("templating", {}).get("list", []):
        name = var.get("name")
        if var.get("type") == "constant" and name in constants:
            value = constants[name]
            var["query"] = value
            var["current"] = {"selected": False, "text": value, "value": value}
            var["options"] = [{"selected": True, "text": value, "value": value}]
            changed = True
    return changed


def load_dashboards(directory: Path = DASHBOARD_DIR,
                    constants: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every `*.json` dashboard in `directory` by file stem, checked (valid JSON, uid, title,
    `cluster` variable), with its `constant` variables set from `constants`; ValueError names
    the first bad one."""
    out: dict[str, str] = {}
    for path in sorted(directory.glob("*.json")):
        text = path.read_text()
        _check(path.name, text)
        doc = json.loads(text)
        if constants and _set_constants(doc, constants):
            text = json.dumps(doc, indent=2) + "\n"
        out[path.stem] = text
    if not out:
        raise ValueError(f"no dashboards in {directory}")
    return out
