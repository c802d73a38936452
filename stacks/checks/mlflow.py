"""What `services.mlflow` means, checked: clusters, stores, the identity provider and site limits."""

from __future__ import annotations

import ipaddress
from typing import Any

from components.kubernetes.objects import quantity
from stacks.checks.problems import MISSING, ConfigProblem, key_path
from stacks.config.mlflow import Mlflow
from stacks.config.platform import PlatformConfig
from stacks.plan.clusters import clusters_by_ref
from stacks.plan.mlflow import ONPREM_INSTANCES, store_clusters

#: Cloud SQL keeps at least this many daily backups here (it wants more backups than days of
#: transaction log, which are at least 1): `components.gcp.postgres.MIN_RETAINED_BACKUPS`.
GCP_MIN_BACKUPS = 2


#: Longest DNS name (the server's hostname `mlflow.<cluster>.<baseDomain>`).
_MAX_HOSTNAME = 253


def problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    """What `services.mlflow` means, checked against the rest of the stack."""
    m = cfg.services.mlflow
    if m is None:
        return []
    out: list[ConfigProblem] = []

    def add(loc: tuple[Any, ...], value: Any, allowed: str) -> None:
        out.append(ConfigProblem(key_path(("services", "mlflow", *loc)), value, allowed))

    for k, cidr in enumerate(m.oidc.idp_cidrs):
        if ipaddress.ip_network(str(cidr)).is_global:
            add(("oidc", "idpCidrs", k), str(cidr),
                "a non-public range (public HTTPS is admitted already): 10.0.0.0/8, "
                "172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10")
    refs = clusters_by_ref(cfg)
    known = ", ".join(refs) or "none (configure kubernetes first)"
    stores = [s.name for s in cfg.storage.stores]
    store_ok = m.artifact_store is None or m.artifact_store in stores
    if not store_ok:
        add(("artifactStore",), m.artifact_store,
            f"allowed: names of storage.stores ({', '.join(stores) or 'none'})")
    where = store_clusters(cfg, m.artifact_store) if m.artifact_store and store_ok else []
    onprem_allowed = ["onprem"] if "onprem" in refs else []
    seen: set[str] = set()
    for i, ref in enumerate(m.clusters):
        if ref in seen:
            add(("clusters", i), ref, "each cluster may appear once")
            continue
        seen.add(ref)
        if ref not in refs:
            add(("clusters", i), ref, f"allowed: clusters of this stack ({known})")
            continue
        if ref == "onprem" or not store_ok:
            continue
        if m.artifact_store is None:
            add(("artifactStore",), MISSING,
                f"required for cloud cluster {ref}: the artifact store (storage.stores) MLflow writes to")
            continue
        if ref not in where:
            add(("clusters", i), ref,
                f"artifact store {m.artifact_store!r} is built only in the first region of each of "
                f"its clouds; allowed: {', '.join(where + onprem_allowed) or 'none'}")

    if "onprem" in m.clusters and "onprem" in refs and m.onprem is None:
        add(("onprem",), MISSING, "required when onprem is in services.mlflow.clusters: "
            "artifacts (endpointUrl, endpointCidrs, bucket, secret key names)")
    if m.onprem is not None and "onprem" not in m.clusters:
        add(("onprem",), "<on-prem artifacts>", "only used with onprem in services.mlflow.clusters; "
            "add onprem there or remove this key")
    if m.onprem is not None:
        a = m.onprem.artifacts
        for j, cidr in enumerate(a.endpoint_cidrs):
            if cidr.prefixlen < 8:
                add(("onprem", "artifacts", "endpointCidrs", j), str(cidr),
                    "must be /8 or smaller: name the object store's own ranges, never everything")
        if m.onprem.volume_snapshot_class is None and cfg.environment == "prod":
            add(("onprem", "volumeSnapshotClass"), MISSING,
                "required in prod: the on-prem database is backed up by volume snapshots of this class")
        if a.access_key_id_key == a.secret_access_key_key:
            add(("onprem", "artifacts", "secretAccessKeyKey"), a.secret_access_key_key,
                "must differ from accessKeyIdKey (two secret config keys)")

    namespaces = [n.name for n in cfg.kubernetes.namespaces] if cfg.kubernetes else []
    listed = f"platform namespaces of kubernetes.namespaces ({', '.join(namespaces) or 'none'})"
    if m.clusters and m.namespace not in namespaces:
        add(("namespace",), m.namespace, f"allowed: {listed}")
    for k, client in enumerate(m.client_namespaces):
        if client not in namespaces or client == m.namespace:
            add(("clientNamespaces", k), client, f"allowed: {listed}, other than {m.namespace}")
    out += _site_limits(cfg, m, refs)
    return out


def _site_limits(cfg: PlatformConfig, m: Mlflow, refs: dict[str, Any]) -> list[ConfigProblem]:
    """What the database and server components of each configured cluster would refuse (or
    what its site refuses at deploy time), found here so it is a config error with a key path
    instead of a failure halfway through `pulumi up`."""
    out: list[ConfigProblem] = []

    def add(loc: tuple[Any, ...], value: Any, allowed: str) -> None:
        out.append(ConfigProblem(key_path(loc), value, allowed))

    clusters = [(i, ref) for i, ref in enumerate(m.clusters) if ref in refs]
    sites = {ref.split("/")[0] for _, ref in clusters}
    days = m.backup_retention_days(cfg.environment)
    if "gcp" in sites and days < GCP_MIN_BACKUPS:
        # components/gcp/postgres.py refuses it (Cloud SQL: more backups than days of log).
        add(("services", "mlflow", "database", "backupRetentionDays"), days,
            f"at least {GCP_MIN_BACKUPS} when MLflow runs on GCP (Cloud SQL keeps fewer days of "
            "point-in-time log than daily backups, and at least 1 day of log)")

    base = cfg.kubernetes.base_domain if cfg.kubernetes else ""
    for i, ref in clusters:
        plan = refs[ref]
        site, region = plan.site, plan.region
        hostname = f"mlflow.{plan.name}.{base}"
        if len(hostname) > _MAX_HOSTNAME:
            add(("services", "mlflow", "clusters", i), ref,
                f"its server's hostname {hostname[:40]}... is longer than {_MAX_HOSTNAME} "
                "characters: shorten kubernetes.baseDomain")
        if site == "onprem" or cfg.network is None:
            continue
        entry = getattr(cfg.network, site).get(region)
        # The database components (and the server's egress rule) take only ranges that are not
        # globally routable (IANA): RFC 1918 or 100.64.0.0/10, but not every range
        # network.extraPrivateRanges may declare private (e.g. 11.0.0.0/8).
        if entry is not None and ipaddress.ip_network(entry.cidr).is_global:
            add(("services", "mlflow", "clusters", i), ref,
                f"its database would be in network.{site}.{region}.cidr ({entry.cidr}), a "
                "publicly routable range; MLflow's databases need a non-public one (10.0.0.0/8, "
                "172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10)")

    if "onprem" in sites and cfg.kubernetes is not None:
        ns = next((n for n in cfg.kubernetes.namespaces if n.name == m.namespace), None)
        if ns is not None:
            instances = ONPREM_INSTANCES[m.high_availability(cfg.environment)]
            need = instances * m.database.storage_gb
            room = quantity(ns.quota.storage) / quantity("1Gi")
            k = cfg.kubernetes.namespaces.index(ns)
            if need > room:
                add(("services", "mlflow", "database", "storageGb"), m.database.storage_gb,
                    f"on-prem {instances} instance volume(s) of this size ({need}Gi) must fit "
                    f"the {m.namespace} namespace's quota "
                    f"(kubernetes.namespaces[{k}].quota.storage = {ns.quota.storage}): at most "
                    f"{int(room // instances)}, or raise the quota")
            if instances > ns.quota.volume_claims:
                add(("kubernetes", "namespaces", k, "quota", "volumeClaims"),
                    ns.quota.volume_claims,
                    f"at least {instances}: the on-prem MLflow database has {instances} volumes")
    return out
