"""Wire JupyterHub onto the clusters `services.notebooks` names: per cluster a `NotebookHub`
serving the notebook teams whose sites include it, their servers in their namespaces.

Exports `notebooks`: per cluster name the hub's URL and the teams it serves.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.kubernetes.addons import STORAGE_CLASS
from components.kubernetes.notebooks import NotebookHub, NotebookHubArgs
from stacks.config.platform import PROJECT, PlatformConfig
from stacks.plan.clusters import ONPREM
from stacks.plan.notebooks import hostname, hub_settings, notebook_teams
from stacks.program.clusters import Cluster
from stacks.program.services.context import Built, ServiceContext, monitoring_crds

#: Stack output: per cluster name the hub's URL and teams.
OUTPUT = "notebooks"
#: Where the Kubernetes API may be when the config does not say (private endpoints).
_RFC1918 = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def _api_server_cidrs(cfg: PlatformConfig, cluster: Cluster) -> tuple[str, ...]:
    """On-prem the site's ranges (the API server is there); in the clouds the private ranges
    (the clusters' private API endpoints sit in the VPC/VNet)."""
    net = cfg.network.onprem if cfg.network else None
    if cluster.plan.site == ONPREM and net is not None:
        return tuple(str(c) for c in net.cidrs)
    return _RFC1918


def build_notebooks(ctx: ServiceContext, built: Built) -> dict[str, str]:
    """Create the hub on every configured cluster; export its stack output."""
    cfg = ctx.cfg
    n = cfg.services.notebooks
    assert n is not None and cfg.kubernetes is not None
    client_secret = pulumi.Config(PROJECT).require_secret(n.oidc.client_secret_key)
    urls: dict[str, str] = {}
    summary: dict[str, Any] = {}
    for ref in n.clusters:
        cluster = ctx.clusters[ref]
        cname = cluster.plan.name
        teams = notebook_teams(cfg, ref)
        host = hostname(cname, cfg.kubernetes.base_domain)
        wait = [cluster.addons.namespaces[n.namespace], cluster.addons.releases["envoy-gateway"]]
        hub = NotebookHub(f"notebooks-{cname}", NotebookHubArgs(
            namespace=n.namespace, hostname=host, settings=hub_settings(cfg, ref, cname),
            client_secret=client_secret,
            image=n.image, home_size=n.home_size, storage_class=STORAGE_CLASS,
            idle_timeout_seconds=n.idle_timeout_minutes * 60,
            max_age_seconds=n.max_age_hours * 3600,
            idp_cidrs=tuple(str(c) for c in n.oidc.idp_cidrs),
            api_server_cidrs=_api_server_cidrs(cfg, cluster),
            monitoring_crds=monitoring_crds(built, ref), wait_for=tuple(wait), tags=ctx.tags,
        ), pulumi.ResourceOptions(providers=[cluster.provider]))
        urls[ref] = f"https://{host}"
        summary[cname] = {"url": hub.url, "teams": [t.name for t in teams]}
    pulumi.export(OUTPUT, summary)
    return urls
