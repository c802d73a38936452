"""Airflow's egress in its default-deny namespace (pure specs for `objects.network_policy`):
the Kubernetes APIs it launches task Jobs through (its own cluster's, and the remote sites'
over the VPN), the log store, the IdP, and the teams' git servers over ssh. The metadata
database is in the same namespace (the namespace's same-namespace rule)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

NON_PUBLIC = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")


def _to(cidrs: Sequence[str], ports: Sequence[int]) -> dict[str, Any]:
    return {"to": [{"ipBlock": {"cidr": c}} for c in cidrs],
            "ports": [{"protocol": "TCP", "port": p} for p in ports]}


def _public(ports: Sequence[int], extra: Sequence[str] = ()) -> dict[str, Any]:
    return {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(NON_PUBLIC)}},
                   *({"ipBlock": {"cidr": c}} for c in extra)],
            "ports": [{"protocol": "TCP", "port": p} for p in ports]}


def airflow_egress(*, api_server_cidrs: Sequence[str], api_server_ports: Sequence[int],
                   remote_site_cidrs: Sequence[str], log_store_cidrs: Sequence[str],
                   log_store_port: int, git_cidrs: Sequence[str], git_ports: Sequence[int]) -> dict[str, Any]:
    """One Egress rule set for every Airflow pod."""
    rules = [_to(api_server_cidrs, api_server_ports), _to(log_store_cidrs, [log_store_port]),
             _public([443]), _public(sorted(set(git_ports)), git_cidrs)]
    if remote_site_cidrs:
        rules.append(_to(remote_site_cidrs, [443]))
    return {"policyTypes": ["Egress"], "egress": rules}
