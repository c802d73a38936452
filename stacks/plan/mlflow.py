"""MLflow derivations: which clusters use a store, on-prem instances, secret keys."""

from __future__ import annotations

from stacks.config.platform import PlatformConfig
from stacks.plan.clusters import clusters_by_ref

#: On-prem CloudNativePG instances (one volume of `storageGb` each), with and without HA.
ONPREM_INSTANCES = {True: 3, False: 1}


def store_clusters(cfg: PlatformConfig, store_name: str) -> list[str]:
    """Cluster refs where store `store_name` exists: `<cloud>/<first region>` of each of its
    sites that has a cluster there."""
    store = next((s for s in cfg.storage.stores if s.name == store_name), None)
    if store is None:
        return []
    refs = clusters_by_ref(cfg)
    out = []
    for site in cfg.store_sites(store):
        if site not in cfg.enabled_clouds():
            continue
        ref = f"{site}/{cfg.cloud_regions(site)[0]}"
        if ref in refs:
            out.append(ref)
    return out


def secret_keys(cfg: PlatformConfig) -> list[str]:
    """Secret config keys MLflow reads: the OIDC client secret, and on-prem the S3 key pair."""
    m = cfg.services.mlflow
    if m is None or not m.clusters:
        return []
    keys = [m.oidc.client_secret_key]
    if "onprem" in m.clusters and m.onprem is not None:
        keys += [m.onprem.artifacts.access_key_id_key, m.onprem.artifacts.secret_access_key_key]
    return keys
