"""Config of the monitoring service (`services.monitoring`), and what it means.

kube-prometheus-stack runs on every cluster of the stack (no list: a cluster nobody watches is
a cluster nobody notices failing). Every cluster labels its series with `cluster` and `site`
and remote-writes them to one central Prometheus on the cluster `central` names, which also
runs Alertmanager and Grafana.

Alerts reach people only when `alerting` names a receiver: the receiver's URL is a secret config
key (`pulumi config set --secret <webhookUrlKey> <url>`), never plain config or Helm values.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from stacks.config.base import CLUSTER_REF, HTTPS_URL, SECRET_KEY_NAME, Cidr, ConfigModel

#: A Prometheus duration as the Prometheus CRD accepts for `retention` (e.g. 2d, 30d, 12h).
_DURATION = r"^(0|([0-9]+(ms|s|m|h|d|w|y))+)$"
_QUANTITY = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"




class Alerting(ConfigModel):
    """Where the central Alertmanager sends every critical and warning alert."""

    webhook_url_key: str = Field(pattern=SECRET_KEY_NAME)
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

    central: str = Field(pattern=CLUSTER_REF)
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
        pattern=HTTPS_URL)
    """Where `runbooks/` is browsable (https); every alert links to
    `<runbookBaseUrl>/alerts.md#<alert>`."""
    onprem_control_plane: bool = True
    """Scrape the on-prem control plane (scheduler, controller manager, etcd, kube-proxy). Set
    false when they bind their metrics to localhost (the kubeadm default), so no target stays
    down. Managed clouds hide their control plane; it is never scraped there."""
    alerting: Alerting | None = None
    """The receiver of the platform's alerts; unset: alerts show in the Alertmanager UI only."""
