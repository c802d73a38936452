"""pydantic's messages in plain words: what is allowed, never a raw regex, with the likely fix.

Each rule turns one kind of structural error into a sentence a person can act on: a close
match for a misspelt choice (`eu-west-l` → `eu-west-1`), quotes for a number YAML read from a
version (`1.33`, and `1.30` which YAML reads as 1.3), the network of an address with host bits
set, and the form of the values a pattern stands for.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from typing import Any

# Kubernetes quantities, as the config models' patterns accept them.
_QUANTITY_WORDS = "a Kubernetes quantity, like 64Gi, 512Mi, 2 or 500m (not 64GB)"
#: What each pattern of the config models stands for, in words (patterns not listed fall back
#: to "does not have the allowed form" plus pydantic's own text).
PATTERN_WORDS = {
    r"^[0-9]+(\.[0-9]+)?(m|Mi|Gi)?$": _QUANTITY_WORDS,
    r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$": _QUANTITY_WORDS,
    r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$": _QUANTITY_WORDS,
    r"^[0-9]+(\.[0-9]+)?(m|Mi|Gi|Ti)?$": _QUANTITY_WORDS,
    r"^[0-9]+(Gi|Ti)$": "a size in Gi or Ti, like 100Gi or 2Ti",
    r"^(0|([0-9]+(ms|s|m|h|d|w|y))+)$": "a duration like 30d, 12h or 1h30m (units ms, s, m, h, d, w, y)",
    r"^\d{12}$": "the 12-digit AWS account id, in quotes (\"111122223333\")",
    r"^\d{6,20}$": "the GCP project number (digits), in quotes",
    r"^1\.\d{1,2}$": "a Kubernetes minor version in quotes, like \"1.33\"",
    r"^[0-9]{1,9}$": "a registered-model version number in quotes, like \"3\"",
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$":
        "a lowercase UUID like 3f1c2a9e-7b4d-4c1e-9a2f-5d6e7f8a9b0c",
    r"^(onprem|(aws|gcp|azure)/[a-z0-9-]+)$": "a cluster of the stack: onprem or CLOUD/REGION, like aws/eu-west-1",
}
_QUOTED = re.compile(r"'([^']*)'")


#: Characters typed for the digits they look like (`eu-west-l`).
_LOOK_ALIKES = str.maketrans({"l": "1", "I": "1", "O": "0", "o": "0"})


def _choice(value: Any, ctx: dict[str, Any]) -> str:
    options = _QUOTED.findall(str(ctx.get("expected", "")))
    alike = str(value).translate(_LOOK_ALIKES)
    close = [alike] if alike in options else difflib.get_close_matches(
        str(value), options, n=1, cutoff=0.8)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"allowed: {', '.join(repr(o) for o in options)}{hint}"


def plain_message(error: dict[str, Any]) -> str:
    """pydantic's error `error` as a sentence that says what is allowed."""
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "literal_error" and isinstance(value, str):
        return _choice(value, ctx)
    if kind == "string_type" and isinstance(value, (int, float)) and not isinstance(value, bool):
        # YAML reads 1.33 as a number (and 1.30 as 1.3): the value must be written as text.
        return f"must be text: write it in quotes, like \"{value}\" (YAML reads it as a number)"
    if kind == "string_pattern_mismatch":
        words = PATTERN_WORDS.get(str(ctx.get("pattern", "")))
        if words is not None:
            return f"must be {words}"
    if kind in ("ip_v4_network", "ip_any_network") and isinstance(value, str):
        try:
            network = ipaddress.IPv4Network(value, strict=False)
        except ValueError:
            return "must be an IPv4 network like 10.0.0.0/16"
        return (f"has host bits set: {value} is an address inside {network}; write the network "
                f"({network})")
    return error["msg"]
