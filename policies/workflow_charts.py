"""Airflow and JupyterHub Helm releases: no bundled in-cluster database in prod, no plain HTTP.

Both charts default to a database of their own inside the release (Airflow: a bundled
PostgreSQL subchart, `postgresql.enabled` true unless set false; JupyterHub: SQLite on a volume,
`hub.db.type: sqlite-pvc`), which no one backs up or patches: prod keeps them in the site's
managed PostgreSQL. And neither may serve its UI without TLS: an Ingress of the chart needs TLS,
a JupyterHub proxy Service exposed outside the cluster needs `proxy.https.enabled`, and a
database URL in the values may not turn TLS off (`sslmode=disable`).

The environment comes from the policy config (`environment`), or else from the stack name.
"""

from __future__ import annotations

from typing import Any

from helpers import Findings, config_value, is_unknown, lookup, plain
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
#: Charts judged here (the `chart` input, last path segment for OCI references).
CHARTS = frozenset({"airflow", "jupyterhub"})
#: JupyterHub `hub.db.type` values that keep the hub's database inside the release.
JUPYTERHUB_BUNDLED = frozenset({"sqlite-pvc", "sqlite-memory"})
#: libpq sslmode values that allow an unencrypted connection.
PLAIN_SSLMODES = frozenset({"disable", "allow", "prefer"})


def _chart(props: Any) -> str | None:
    chart = lookup(props, "chart")
    return chart.rsplit("/", 1)[-1] if isinstance(chart, str) else None


def _get(values: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(values, dict):
            return None
        values = values.get(key)
    return values


def _ingress_problems(values: dict, where: tuple[str, ...], label: str) -> list[str]:
    ingress = _get(values, *where)
    if not isinstance(ingress, dict) or ingress.get("enabled") is not True:
        return []
    tls = ingress.get("tls")
    ok = tls.get("enabled") is True if isinstance(tls, dict) else bool(tls)
    return [] if ok else [f"{label} is enabled without TLS ({'.'.join(where)}.tls)"]


def check_airflow(values: dict, prod: bool) -> list[str]:
    problems: list[str] = []
    if prod and _get(values, "postgresql", "enabled") is not False:
        problems.append("uses the chart's bundled PostgreSQL in prod (postgresql.enabled is not false): "
                        "keep the metadata database in the site's managed PostgreSQL "
                        "(data.metadataSecretName)")
    sslmode = _get(values, "data", "metadataConnection", "sslmode")
    if isinstance(sslmode, str) and sslmode in PLAIN_SSLMODES:
        problems.append(f"connects to its metadata database without TLS (data.metadataConnection.sslmode "
                        f"{sslmode!r}; use require or verify-full)")
    for component in ("apiServer", "web"):
        problems += _ingress_problems(values, ("ingress", component), f"the {component} ingress")
    return problems


def check_jupyterhub(values: dict, prod: bool) -> list[str]:
    problems: list[str] = []
    db_type = _get(values, "hub", "db", "type") or "sqlite-pvc"  # the chart's default
    if prod and db_type in JUPYTERHUB_BUNDLED:
        problems.append(f"keeps the hub database in the release in prod (hub.db.type {db_type!r}): "
                        "use postgres on the site's managed PostgreSQL")
    url = _get(values, "hub", "db", "url")
    if isinstance(url, str) and any(f"sslmode={m}" in url for m in PLAIN_SSLMODES):
        problems.append("connects to its hub database without TLS (hub.db.url sslmode)")
    service_type = _get(values, "proxy", "service", "type") or "LoadBalancer"  # the chart's default
    if service_type in ("LoadBalancer", "NodePort") and _get(values, "proxy", "https", "enabled") is not True:
        problems.append(f"exposes its proxy as a {service_type} without TLS (proxy.https.enabled): "
                        "use ClusterIP behind the Gateway, or enable https")
    problems += _ingress_problems(values, ("ingress",), "the ingress")
    return problems


def _environment(args: ResourceValidationArgs) -> str:
    configured = config_value(args.get_config(), "environment", None)
    if isinstance(configured, str):
        return configured
    urn = args.urn or ""
    return urn.split("::", 2)[0].rsplit(":", 1)[-1] if urn.startswith("urn:pulumi:") else ""


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != RELEASE_TYPE or _chart(args.props) not in CHARTS:
        return
    f = Findings(report)
    values = lookup(args.props, "values")
    if is_unknown(values):
        f.unknown(values)
        f.settle()
        return
    values = plain(values, ("values",)) or {}
    prod = _environment(args) == "prod"
    check = check_airflow if _chart(args.props) == "airflow" else check_jupyterhub
    for why in check(values if isinstance(values, dict) else {}, prod):
        f.violation(f"{args.name}: {why}")
    f.settle()


workflow_chart_database_and_tls = ResourceValidationPolicy(
    name="workflow-chart-database-and-tls",
    display_name="Airflow and JupyterHub keep their database outside the release in prod, and use TLS",
    description=("Helm releases of the airflow and jupyterhub charts: in prod no bundled database "
                 "(Airflow postgresql.enabled false; JupyterHub hub.db.type not sqlite-*); never an "
                 "ingress without TLS, an exposed JupyterHub proxy without https, or a database URL "
                 "with sslmode disable/allow/prefer."),
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["encryption-in-transit", "data-protection", "kubernetes"],
    remediation_steps=("Set postgresql.enabled: false and data.metadataSecretName (Airflow) or "
                       "hub.db.type: postgres with its URL in a Secret (JupyterHub), pointing at the "
                       "site's managed PostgreSQL with sslmode=require; serve the UI behind the "
                       "platform Gateway (HTTPS) or give the chart's ingress TLS."),
    config_schema=PolicyConfigSchema(properties={
        "environment": {"type": "string",
                        "description": "The stack's environment (dev, staging, prod); default: the stack name."},
    }),
)

POLICIES = [workflow_chart_database_and_tls]
