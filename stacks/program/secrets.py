"""Every secret config key a stack's program reads (`pulumi config set --secret`), and why.

One list serves the offline preview (its stand-ins), the refusal of secrets written in
plaintext and `hybrid-ml secrets STACK`, so the guide to a first `pulumi up` cannot drift from
what the program needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from stacks.config.platform import PlatformConfig
from stacks.program.services import configured


@dataclass(frozen=True)
class RequiredSecret:
    """One secret config key (without the project prefix) and what reads it."""

    key: str
    #: What it is for, in a few words.
    used_by: str
    #: Read from a file (a kubeconfig) rather than typed.
    from_file: bool = False


def required_secrets(cfg: PlatformConfig) -> list[RequiredSecret]:
    """The stack's secret keys in the order a person sets them up: the on-prem cluster first,
    then each configured service's in build order."""
    out: list[RequiredSecret] = []
    onprem = cfg.sites.onprem
    if onprem is not None and onprem.enabled:
        out.append(RequiredSecret(onprem.kubeconfig_secret, "the on-prem cluster's kubeconfig",
                                  from_file=True))
    seen = {s.key for s in out}
    for service in configured(cfg):
        for key in service.secret_keys(cfg):
            if key not in seen:
                seen.add(key)
                out.append(RequiredSecret(key, service.title))
    return out
