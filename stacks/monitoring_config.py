"""Config of the monitoring service (`services.monitoring`), and what it means.

kube-prometheus-stack runs on every cluster of the stack (no list: a cluster nobody watches is
a cluster nobody notices failing). Every cluster labels its series with `cluster` and `site`
and remote-writes them to one central Prometheus on the cluster `central` names, which also
runs Alertmanager and Grafana.

Alerts reach people only when `alerting` names a receiver: the receiver's URL is a secret config
key (`pulumi config set --secret <webhookUrlKey> <url>`), never plain config or Helm values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from stacks.config_base import Cidr, ConfigModel

if TYPE_CHECKING:
    from stacks.config import PlatformConfig
    from stacks.validation import ConfigProblem

#: A Prometheus duration as the Prometheus CRD accepts for `retention` (e.g. 2d, 30d, 12h).
_DURATION = r"^(0|([0-9]+(ms|s|m|h|d|w|y))+)$"
_QUANTITY = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"
_HTTPS_URL = r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?$"
_SECRET_KEY = r"^[A-Za-z][A-Za-z0-9_-]*$"
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


class Alerting(ConfigModel):
    """Where the central Alertmanager sends every critical and warning alert."""

    webhook_url_key: str = Field(pattern=_SECRET_KEY)
    """Name of the secret config key holding the receiver's https URL
    (`pulumi config set --secret <name> <url>`); the URL never appears in plain config."""
    receiver: Literal["webhook", "slack", "msteams"] = "webhook"
    """What the URL is: `webhook` (Alertmanager's own JSON, for tools with an Alertmanager
    integration: Grafana OnCall, incident.io, Opsgenie, a relay), `slack` (a Slack incoming
    webhook) or `msteams` (a Teams Workflows webhook, Alertmanager's msteamsv2)."""
    receiver_cidrs: list[Cidr] = Field(default_factory=list)
    """Private ranges the receiver lives in (an internal relay); empty: any public address
    (a SaaS receiver). Alertmanager may reach them on 443 only."""


class Monitoring(ConfigModel):
    """Monitoring on every cluster, aggregated into one central Prometheus, Alertmanager and Grafana."""

    central: str = Field(pattern=r"^(onprem|(aws|gcp|azure)/[a-z0-9-]+)$")
    """The cluster hosting the central Prometheus (remote-write receiver), Alertmanager and
    Grafana: `onprem` or `<cloud>/<region>`; it must be a cluster of the stack."""
    local_retention: str = Field(default="2d", pattern=_DURATION)
    """How long each cluster's own Prometheus keeps its series (a buffer; history lives centrally)."""
    central_retention: str = Field(default="30d", pattern=_DURATION)
    """How long the central Prometheus keeps every cluster's series."""
    local_storage: str = Field(default="20Gi", pattern=_QUANTITY)
    """Volume size of each cluster's own Prometheus (default StorageClass, encrypted)."""
    central_storage: str = Field(default="100Gi", pattern=_QUANTITY)
    """Volume size of each of the two central Prometheus replicas."""
    runbook_base_url: str = Field(
        default="https://github.com/hybrid-ml/hybrid-ml-platform/blob/main/runbooks",
        pattern=_HTTPS_URL)
    """Where `runbooks/` is browsable (https); every alert links to
    `<runbookBaseUrl>/alerts.md#<alert>`."""
    onprem_control_plane: bool = True
    """Scrape the on-prem control plane (scheduler, controller manager, etcd, kube-proxy). Set
    false when they bind their metrics to localhost (the kubeadm default), so no target stays
    down. Managed clouds hide their control plane; it is never scraped there."""
    alerting: Alerting | None = None
    """The receiver of the platform's alerts; unset: alerts show in the Alertmanager UI only."""


def duration_seconds(value: str) -> float:
    """A Prometheus duration (validated by the model's pattern) in seconds."""
    import re

    if value == "0":
        return 0.0
    return sum(int(n) * _UNITS[u] for n, u in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", value))


def problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    """The central cluster exists, the monitoring namespace exists and its quota holds the volumes."""
    from components.kubernetes.monitoring import (
        ALERTMANAGER_REPLICAS,
        ALERTMANAGER_STORAGE,
        CENTRAL_REPLICAS,
        NAMESPACE,
    )
    from components.kubernetes.objects import quantity
    from stacks.cluster_plan import clusters_by_ref
    from stacks.validation import ConfigProblem, _path

    mon = cfg.services.monitoring
    if mon is None:
        return []
    out: list[ConfigProblem] = []
    base = ("services", "monitoring")
    refs = clusters_by_ref(cfg)
    if mon.central not in refs:
        out.append(ConfigProblem(
            _path((*base, "central")), mon.central,
            f"allowed: a cluster of the stack ({', '.join(refs) or 'none: configure kubernetes'})"))
    if duration_seconds(mon.central_retention) < duration_seconds(mon.local_retention):
        out.append(ConfigProblem(
            _path((*base, "centralRetention")), mon.central_retention,
            f"must be at least localRetention ({mon.local_retention}): the central Prometheus "
            "holds the history"))
    k = cfg.kubernetes
    namespaces = {ns.name: (i, ns) for i, ns in enumerate(k.namespaces)} if k is not None else {}
    # HOST_NAMESPACE as a platform namespace is refused with the other add-on namespaces
    # (stacks/cluster_validation.py RESERVED_NAMESPACES), before services are judged.
    if k is not None and NAMESPACE not in namespaces:
        out.append(ConfigProblem(
            _path(("kubernetes", "namespaces")), [ns.name for ns in k.namespaces],
            f"must include {NAMESPACE!r}: monitoring runs in that platform namespace"))
    elif NAMESPACE in namespaces:
        i, ns = namespaces[NAMESPACE]
        quota = quantity(ns.quota.storage)
        central = (CENTRAL_REPLICAS * quantity(mon.central_storage)
                   + ALERTMANAGER_REPLICAS * quantity(ALERTMANAGER_STORAGE))
        if central > quota:
            out.append(ConfigProblem(
                _path((*base, "centralStorage")), mon.central_storage,
                f"{CENTRAL_REPLICAS} replicas plus Alertmanager ({ALERTMANAGER_REPLICAS} x "
                f"{ALERTMANAGER_STORAGE}) exceed the {NAMESPACE!r} namespace's storage quota "
                f"(kubernetes.namespaces[{i}].quota.storage = {ns.quota.storage}); lower it or "
                "raise the quota"))
        if quantity(mon.local_storage) > quota:
            out.append(ConfigProblem(
                _path((*base, "localStorage")), mon.local_storage,
                f"exceeds the {NAMESPACE!r} namespace's storage quota "
                f"(kubernetes.namespaces[{i}].quota.storage = {ns.quota.storage})"))
    if mon.alerting is not None:
        for i, cidr in enumerate(mon.alerting.receiver_cidrs):
            if not cidr.is_private:
                out.append(ConfigProblem(
                    _path((*base, "alerting", "receiverCidrs", i)), str(cidr),
                    "allowed: a private range (an internal receiver); leave the list empty "
                    "for a receiver on the public internet"))
    return out


def secret_keys(cfg: PlatformConfig) -> list[str]:
    """The alert receiver's URL, when alerting is configured. The Grafana admin and
    remote-write passwords are generated, not configured."""
    mon = cfg.services.monitoring
    if mon is None or mon.alerting is None:
        return []
    return [mon.alerting.webhook_url_key]
