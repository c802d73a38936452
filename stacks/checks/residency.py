"""What `residency`, `sites` and `storage` mean together, checked: regions and stores inside the residency plan."""

from __future__ import annotations

from typing import Any

from components.regions import ONPREM, cloud_of
from stacks.checks.problems import ConfigProblem, key_path
from stacks.config.platform import PlatformConfig


def residency_problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    res = cfg.residency
    allowed = set(res.allowed_regions)

    def add(loc: tuple[Any, ...], value: Any, why: str) -> None:
        problems.append(ConfigProblem(key_path(loc), value, why))

    for i, region in enumerate(res.allowed_regions):
        if cloud_of(region) in (None, ONPREM):
            add(("residency", "allowedRegions", i), region, "not a known AWS, GCP or Azure region")
    for name, cls in res.classifications.items():
        for i, region in enumerate(cls.allowed_regions):
            if region not in allowed:
                add(("residency", "classifications", name, "allowedRegions", i), region,
                    f"allowed: regions of residency.allowedRegions ({', '.join(sorted(allowed))})")
    classes = sorted(res.classifications)
    if res.default_classification not in res.classifications:
        add(("residency", "defaultClassification"), res.default_classification,
            f"allowed: {', '.join(classes)}")

    for cloud in cfg.enabled_clouds():
        key = "locations" if cloud == "azure" else "regions"
        regions = cfg.cloud_regions(cloud)
        for i, region in enumerate(regions):
            if region not in allowed:
                add(("sites", cloud, key, i), region,
                    f"outside the residency plan; allowed: {', '.join(sorted(allowed))}")
        if len(set(regions)) != len(regions):
            add(("sites", cloud, key), regions, "each region may appear once")

    enabled = cfg.enabled_clouds()
    seen: set[str] = set()
    for i, store in enumerate(cfg.storage.stores):
        loc = ("storage", "stores", i)
        if store.name in seen:
            add((*loc, "name"), store.name, "store names must be unique")
        seen.add(store.name)
        cls_name = cfg.store_classification(store)
        cls = res.classifications.get(cls_name)
        if cls is None:
            if store.data_classification is not None:
                add((*loc, "dataClassification"), cls_name, f"allowed: {', '.join(classes)}")
            continue
        for j, site in enumerate(cfg.store_sites(store)):
            site_loc = (*loc, "sites", j) if store.sites is not None else (*loc, "sites")
            if site not in enabled:
                add(site_loc, site, f"allowed: enabled cloud sites ({', '.join(enabled) or 'none'})")
                continue
            if cls.on_prem_required:
                add(site_loc, site, f"{cls_name!r} data must stay on-prem; allowed: no cloud site")
                continue
            region = cfg.cloud_regions(site)[0]
            if region not in cls.allowed_regions:
                add(site_loc, site,
                    f"its primary region {region} is outside the allowed regions of {cls_name!r} "
                    f"data ({', '.join(cls.allowed_regions) or 'none'})")
    return problems
