"""A picture of the platform from the validated stack config (pure: no Pulumi, no preview).

Sites (the on-prem data centre, each cloud region) hold their network, the on-prem VPN
devices, artifact stores and clusters; clusters hold their GPU pools, the services placed on
them and the teams that run there. Edges: VPN links (tunnels between an on-prem device and a
cloud region's gateway), where services write (MLflow → artifact store), what flows between
sites (monitoring remote-write, Kafka mirrors, serving failover). `stacks/graph_render.py`
draws it as Mermaid or Graphviz DOT.

Service configs are read defensively (by attribute, with fallbacks), so a service whose model
gains or renames a field still shows up on the clusters it names.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from stacks.config.platform import PlatformConfig
from stacks.plan.clusters import ONPREM, PlannedCluster, planned_clusters
from stacks.plan.tunnels import planned_tunnels
from stacks.program.services import configured
from stacks.render.graph_model import Edge, Group, Ids, Node, PlatformGraph
from stacks.render.graph_services import (
    model_name,
    models,
    service_lines,
    team_placements,
)

CLOUD_NAMES = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}
KUBERNETES_NAMES = {"aws": "EKS", "gcp": "GKE", "azure": "AKS", ONPREM: "Cluster"}
NETWORK_NAMES = {"aws": "VPC", "gcp": "VPC subnets", "azure": "VNet"}
STORE_KINDS = {"aws": "S3 bucket", "gcp": "Cloud Storage bucket", "azure": "Blob storage"}


def _cluster_label(c: PlannedCluster) -> str:
    return f"{KUBERNETES_NAMES[c.site]} {c.name} · Kubernetes {c.version}"


def _cluster_config(cfg: PlatformConfig, c: PlannedCluster) -> Any:
    k = cfg.kubernetes
    return k.onprem if c.site == ONPREM else getattr(k, c.site)[c.region]


def _gpu_lines(pool: Any) -> tuple[str, ...]:
    share = ""
    if pool.mig_profile:
        share = f" · MIG {pool.mig_profile}"
    elif pool.time_slicing_replicas:
        share = f" · time-sliced x{pool.time_slicing_replicas}"
    size = (f"{len(pool.nodes)} node{'s' if len(pool.nodes) != 1 else ''}" if pool.nodes
            else f"{pool.min_size}-{pool.max_size} nodes")
    capacity = " · spot" if pool.spot else ""
    machine = f"{pool.machine_type} · " if pool.machine_type else ""
    return (f"GPU pool {pool.name}", f"{pool.gpu_count}x {pool.gpu_type} per node{share}",
            f"{machine}{size}{capacity}")


class _Builder:
    def __init__(self, cfg: PlatformConfig, stack: str, teams: Any) -> None:
        self.cfg, self.teams = cfg, teams
        self.ids = Ids()
        self.graph = PlatformGraph(stack=stack)
        self.sites: dict[tuple[str, str], Group] = {}
        self.clusters: dict[str, Group] = {}
        #: (service, ref) -> node id; (store, cloud, region) -> node id.
        self.services: dict[tuple[str, str], str] = {}
        self.stores: dict[tuple[str, str, str], str] = {}
        self.declared: set[str] = set()

    def node(self, group: Group, kind: str, key: tuple[str, ...], *lines: str) -> str:
        node = Node(self.ids(kind, *key), tuple(lines), kind)
        group.nodes.append(node)
        self.declared.add(node.id)
        return node.id

    def edge(self, source: str | None, target: str | None, label: str, kind: str,
             both_ways: bool = False) -> None:
        if source in self.declared and target in self.declared and source != target:
            self.graph.edges.append(Edge(source, target, label, kind, both_ways))

    def build(self) -> PlatformGraph:
        self._sites()
        self._clusters()
        self._stores()
        self._vpn_links()
        self._services()
        self._teams()
        return self.graph

    def _sites(self) -> None:
        cfg, net = self.cfg, self.cfg.network
        if cfg.onprem_enabled():
            dc = cfg.sites.onprem.datacenter
            site = Group(self.ids("site", ONPREM), f"On-prem data centre {dc}", "site")
            self.sites[(ONPREM, dc)] = site
            if net is not None and net.onprem is not None:
                self.node(site, "net", (ONPREM,), "On-prem network",
                          ", ".join(str(c) for c in net.onprem.cidrs), f"BGP ASN {net.onprem.asn}")
                for d in net.onprem.vpn_devices:
                    self.node(site, "vpn", (d.name,), f"VPN device {d.name}", str(d.public_ip))
        for cloud in cfg.enabled_clouds():
            for region in cfg.cloud_regions(cloud):
                site = Group(self.ids("site", cloud, region), f"{CLOUD_NAMES[cloud]} {region}", "site")
                self.sites[(cloud, region)] = site
                entry = getattr(net, cloud).get(region) if net is not None else None
                if entry is not None:
                    self.node(site, "net", (cloud, region), f"{NETWORK_NAMES[cloud]} {entry.cidr}",
                              f"VPN gateway, BGP ASN {entry.asn}")
        self.graph.groups = list(self.sites.values())

    def _clusters(self) -> None:
        for c in planned_clusters(self.cfg):
            site = self.sites.get((c.site, c.region))
            if site is None:
                continue
            group = Group(self.ids("cluster", c.ref), _cluster_label(c), "cluster")
            site.groups.append(group)
            self.clusters[c.ref] = group
            spec = _cluster_config(self.cfg, c)
            system = getattr(spec, "system_pool", None)
            if system is not None:
                machine = f"{system.machine_type} · " if system.machine_type else ""
                self.node(group, "system", (c.ref,), "System pool",
                          f"{machine}{system.min_size}-{system.max_size} nodes")
            else:
                storage = getattr(getattr(spec, "storage", None), "provisioner", None)
                self.node(group, "system", (c.ref,), "Existing cluster",
                          *([f"storage {storage}"] if storage else []))
            for pool in getattr(spec, "gpu_pools", None) or []:
                self.node(group, "gpu", (c.ref, pool.name), *_gpu_lines(pool))

    def _stores(self) -> None:
        cfg = self.cfg
        for store in cfg.storage.stores:
            for cloud in cfg.store_sites(store):
                if cloud not in cfg.enabled_clouds():
                    continue
                region = cfg.cloud_regions(cloud)[0]  # stores are built in each cloud's first region
                site = self.sites[(cloud, region)]
                self.stores[(store.name, cloud, region)] = self.node(
                    site, "store", (store.name, cloud, region), f"Artifact store {store.name}",
                    f"{STORE_KINDS[cloud]} · {cfg.store_classification(store)}")

    def _vpn_links(self) -> None:
        links = Counter((t.device.name, t.cloud, t.region) for t in planned_tunnels(self.cfg))
        for (device, cloud, region), count in links.items():
            self.edge(self.ids("vpn", device), self.ids("net", cloud, region),
                      f"{count} IPsec tunnel{'s' if count != 1 else ''} · BGP", "vpn", both_ways=True)

    def _services(self) -> None:
        for service in configured(self.cfg):
            svc = service.config(self.cfg)
            for ref in service.placements(self.cfg, svc):
                if ref in self.clusters:
                    self.services[(service.key, ref)] = self.node(
                        self.clusters[ref], "svc", (service.key, ref),
                        *service_lines(service, svc, ref))
        self._service_edges()

    def _service_edges(self) -> None:
        s, services = self.services, self.cfg.services
        mon, mlflow, kafka, serving = (getattr(services, name, None)
                                       for name in ("monitoring", "mlflow", "kafka", "serving"))
        central = getattr(mon, "central", None)
        for (name, ref), node in list(s.items()):
            if name == "monitoring" and central and ref != central:
                self.edge(node, s.get(("monitoring", central)), "remote write", "monitoring")
        store = getattr(mlflow, "artifact_store", None)
        for ref in [r for (n, r) in s if n == "mlflow"]:
            if ref == ONPREM:
                self._onprem_artifacts(mlflow, s[("mlflow", ref)])
            elif store:
                cloud, region = ref.split("/", 1)
                self.edge(s[("mlflow", ref)], self.stores.get((store, cloud, region)), "artifacts", "data")
        for m in getattr(kafka, "mirrors", None) or []:
            prefixes = ", ".join(getattr(m, "topic_prefixes", None) or [])
            label = f"MirrorMaker 2: {prefixes}" if prefixes else "MirrorMaker 2"
            self.edge(s.get(("kafka", getattr(m, "source", ""))),
                      s.get(("kafka", getattr(m, "target", ""))), label, "replication")
        # Failover per model (`models[].failover`) or for the whole service (`failover`).
        for owner, label in [(m, f"failover {model_name(m)}") for m in models(serving)] + [(serving, "failover")]:
            failover = getattr(owner, "failover", None)
            self.edge(s.get(("serving", getattr(failover, "primary", ""))),
                      s.get(("serving", getattr(failover, "secondary", ""))), label, "failover")

    def _onprem_artifacts(self, mlflow: Any, server: str) -> None:
        """On-prem MLflow writes to an S3-compatible bucket of the data centre."""
        artifacts = getattr(getattr(mlflow, "onprem", None), "artifacts", None)
        bucket = getattr(artifacts, "bucket", None)
        site = next((g for (name, _), g in self.sites.items() if name == ONPREM), None)
        if bucket and site is not None:
            target = self.node(site, "store", ("mlflow", ONPREM), "Object store (S3 API)", f"bucket {bucket}")
            self.edge(server, target, "artifacts", "data")

    def _teams(self) -> None:
        for team, refs in team_placements(self.teams, planned_clusters(self.cfg)).items():
            for ref in refs:
                if ref in self.clusters:
                    self.node(self.clusters[ref], "team", (team, ref), f"Team {team}")


def build_graph(cfg: PlatformConfig, stack: str, teams: Any = None) -> PlatformGraph:
    """The platform picture of a validated config. `teams` defaults to `cfg.teams` when the
    config model has one (see `team_placements` for the shape it reads)."""
    if teams is None:
        teams = getattr(cfg, "teams", None)
    return _Builder(cfg, stack, teams).build()
