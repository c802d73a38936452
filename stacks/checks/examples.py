"""Values that only documentation uses: a stack still holding them is not ready for `pulumi up`.

The committed stack files are examples: their peers are RFC 5737 documentation addresses, their
domains RFC 2606 example domains, their AWS account ids the ones AWS's own documentation uses.
The offline preview accepts them (it is what CI previews); a real deployment must replace them,
so the preview warns, key by key. It never fails on them: they are valid values.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from stacks.checks.problems import key_path

#: RFC 5737: TEST-NET-1, -2 and -3, reserved for documentation.
DOCUMENTATION_NETWORKS = tuple(ipaddress.IPv4Network(n) for n in (
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
#: Account ids AWS's documentation uses in its examples.
DOCUMENTATION_AWS_ACCOUNTS = frozenset({
    "111122223333", "123456789012", "444455556666", "777788889999", "999988887777",
    "111111111111", "222222222222", "333333333333"})
#: RFC 2606 / RFC 6761 names reserved for examples and tests.
_EXAMPLE_HOST = re.compile(r"(^|[.@/])(example\.(com|net|org)|[a-z0-9-]+\.(example|test|invalid))"
                           r"(?=$|[/:.?#\s])", re.IGNORECASE)
_ADDRESS = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?\b")
_ACCOUNT = re.compile(r"(?<!\d)\d{12}(?!\d)")


@dataclass(frozen=True)
class ExampleValue:
    """One config value that is still a documentation example."""

    path: str
    value: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}: {self.value!r} ({self.why})"


def _why(text: str) -> str | None:
    for match in _ADDRESS.finditer(text):
        try:
            net = ipaddress.IPv4Network(match.group(0), strict=False)
        except ValueError:
            continue
        if any(net.subnet_of(doc) for doc in DOCUMENTATION_NETWORKS):
            return "an RFC 5737 documentation address"
    if _EXAMPLE_HOST.search(text):
        return "an example domain (RFC 2606)"
    if any(m.group(0) in DOCUMENTATION_AWS_ACCOUNTS for m in _ACCOUNT.finditer(text)):
        return "an AWS account id from AWS's documentation"
    return None


def example_values(raw: Any, loc: tuple[Any, ...] = ()) -> list[ExampleValue]:
    """Every value of the raw platform config (as in the stack file) that is a documentation
    example, with its key path, in file order."""
    if isinstance(raw, dict):
        return [found for key, value in raw.items() for found in example_values(value, (*loc, key))]
    if isinstance(raw, list):
        return [found for i, value in enumerate(raw) for found in example_values(value, (*loc, i))]
    if isinstance(raw, str) and (why := _why(raw)) is not None:
        return [ExampleValue(key_path(loc), raw, why)]
    return []
