"""Alert routing on the central cluster: an AlertmanagerConfig in `monitoring` sending every
critical and warning alert of every namespace to the configured receiver, whose URL lives in
a Secret (never in Helm values)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.monitoring.args import AlertingArgs
from components.kubernetes.monitoring.constants import (
    ALERT_RECEIVER,
    ALERT_RECEIVER_SECRET,
    ALERT_ROUTING,
    REPEAT_INTERVAL,
)
from components.kubernetes.objects import MONITORING_ALPHA_API

#: Notification text (Go templates of Alertmanager) for chat receivers.
_TITLE = ('[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}'
          '{{ end }}] {{ .CommonLabels.alertname }} on {{ .CommonLabels.cluster }}')
_TEXT = ('{{ range .Alerts }}*{{ .Labels.severity }}* {{ .Annotations.summary }}\n'
         '{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook_url }}\n\n{{ end }}')


def alert_routing_spec(receiver: str) -> dict[str, Any]:
    """`spec` of the AlertmanagerConfig sending every critical and warning alert to the
    receiver whose URL is the `url` key of the `alert-receiver` Secret; critical ones are
    repeated hourly, warnings twice a day. Watchdog and InfoInhibitor (severity none) and
    info alerts stay in the Alertmanager UI."""
    url = {"name": ALERT_RECEIVER_SECRET, "key": "url"}
    configs: dict[str, dict[str, Any]] = {
        "webhook": {"webhookConfigs": [{"urlSecret": url, "sendResolved": True}]},
        "slack": {"slackConfigs": [{"apiURL": url, "sendResolved": True, "title": _TITLE,
                                    "text": _TEXT}]},
        # msteamsv2: Teams Workflows webhooks (Alertmanager 0.28+); Office 365 connectors
        # (msteamsConfigs) are retired by Microsoft.
        "msteams": {"msteamsv2Configs": [{"webhookURL": url, "sendResolved": True,
                                          "title": _TITLE, "text": _TEXT}]},
    }
    if receiver not in configs:
        raise ValueError(f"unknown receiver kind {receiver!r}")

    def severity(op: str, value: str) -> dict[str, str]:
        return {"name": "severity", "matchType": op, "value": value}

    return {
        "route": {
            "receiver": ALERT_RECEIVER,
            "groupBy": ["alertname", "cluster"],
            "groupWait": "30s",
            "groupInterval": "5m",
            "repeatInterval": REPEAT_INTERVAL["warning"],
            "matchers": [severity("=~", "critical|warning")],
            "routes": [{
                "receiver": ALERT_RECEIVER,
                "matchers": [severity("=", "critical")],
                "groupWait": "10s",
                "repeatInterval": REPEAT_INTERVAL["critical"],
            }],
        },
        "receivers": [{"name": ALERT_RECEIVER, **configs[receiver]}],
    }


def alert_routing(name: str, alerting: AlertingArgs, meta: dict[str, Any],
                  parent: pulumi.Resource, after: list[pulumi.Resource],
                  release_deps: list[pulumi.Resource]) -> None:
    """The receiver URL's Secret (`<name>-alert-receiver`) and the AlertmanagerConfig routing
    to it (`<name>-alert-routing`)."""
    receiver = k8s.core.v1.Secret(
        f"{name}-alert-receiver",
        metadata={"name": ALERT_RECEIVER_SECRET, **meta},
        type="Opaque",
        string_data={"url": pulumi.Output.secret(alerting.url)},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=after),
    )
    k8s.apiextensions.CustomResource(
        f"{name}-alert-routing",
        api_version=MONITORING_ALPHA_API,
        kind="AlertmanagerConfig",
        metadata={"name": ALERT_ROUTING, **meta},
        spec=alert_routing_spec(alerting.receiver),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*release_deps, receiver]),
    )
