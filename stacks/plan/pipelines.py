"""What `services.pipelines` plans, purely: secret keys, where each team's tasks may run, the
IdP group -> Airflow role mapping, and the site table the DAGs' `hybridml_sites` module reads.

Task placement (decided here, documented in docs/platform.md "Pipelines"): Airflow's own pods
run on each listed cluster with the KubernetesExecutor; a task on the cluster Airflow runs on is
a pod in the team's namespace; a task on another site is a KubernetesPodOperator pod sent to that
site's cluster API over the site-to-site VPN through the Airflow connection `hybridml_<slug>`.
Either way the pod carries the Kueue label of the team's LocalQueue `default`, so it waits its
turn in the team's queue there.
"""

from __future__ import annotations

from typing import Any

from components.regions import ONPREM
from stacks.config.platform import PlatformConfig
from stacks.config.teams import Team, team_namespace

#: Kueue's queue label (pods and jobs name their LocalQueue with it).
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
#: The team's LocalQueue every task goes through (issue 17's `default`).
TEAM_QUEUE = "default"
#: Airflow's built-in role of the platform admins (FAB).
ADMIN_ROLE = "Admin"
#: Object key prefix of task logs in every store.
LOG_PREFIX = "airflow-logs"
#: FAB permissions every team role has (menus and its own user), but no DAG-wide access: what
#: a team may see and run comes per DAG from `access_control` (set by `hybridml_sites`).
TEAM_BASE_PERMISSIONS: tuple[tuple[str, str], ...] = (
    ("can_read", "My Profile"),
    ("can_edit", "My Profile"),
    ("menu_access", "Browse"),
    ("menu_access", "DAGs"),
    ("menu_access", "DAG Runs"),
    ("menu_access", "Task Instances"),
    ("can_read", "Website"),
)
#: What a team's role may do on each of its own DAGs (Airflow's DAG-level access_control).
TEAM_DAG_ACCESS: dict[str, tuple[str, ...]] = {
    "DAGs": ("can_read", "can_edit"),
    "DAG Runs": ("can_read", "can_create"),
}


def team_role(team: Team) -> str:
    """The team's Airflow role: its namespace name (`team-<name>`)."""
    return team_namespace(team.name)


def pipeline_teams(cfg: PlatformConfig) -> list[Team]:
    """The teams with pipelines, in config order."""
    return [t for t in cfg.teams if t.pipelines is not None]


def secret_keys(cfg: PlatformConfig) -> list[str]:
    """The OIDC client secret, the on-prem log store's key pair, each team's DAG deploy key."""
    p = cfg.services.pipelines
    if p is None:
        return []
    keys = [p.oidc.client_secret_key]
    if p.onprem is not None and ONPREM in p.clusters:
        keys += [p.onprem.logs.access_key_id_key, p.onprem.logs.secret_access_key_key]
    keys += [t.pipelines.deploy_key_key for t in pipeline_teams(cfg) if t.pipelines]
    return keys


def site_allowed(cfg: PlatformConfig, team: Team, ref: str) -> bool:
    """Whether the team's data classification lets its tasks run on cluster `ref`: on-prem
    always; a cloud region unless the class must stay on-prem, and only in its regions."""
    if ref == ONPREM:
        return True
    name = team.data_classification or cfg.residency.default_classification
    cls = cfg.residency.classifications.get(name)
    if cls is None or cls.on_prem_required:
        return False
    return ref.split("/", 1)[-1] in cls.allowed_regions


def task_sites(cfg: PlatformConfig, team: Team) -> list[str]:
    """Where the team's tasks may be placed: `pipelines.sites` (default: the team's sites),
    keeping only those its classification allows."""
    wanted = team.pipelines.sites if team.pipelines and team.pipelines.sites else team.sites
    return [ref for ref in wanted if ref in team.sites and site_allowed(cfg, team, ref)]


def site_slug(ref: str) -> str:
    """`aws/eu-west-1` -> `aws_eu_west_1` (Airflow connection ids and env names)."""
    return ref.replace("/", "_").replace("-", "_")


def connection_id(ref: str) -> str:
    """The Airflow connection that reaches cluster `ref`'s API from another site."""
    return f"hybridml_{site_slug(ref)}"


def site_table(cfg: PlatformConfig, home: str) -> dict[str, Any]:
    """What `hybridml_sites` reads on the Airflow of cluster `home` (a JSON ConfigMap): per team
    its namespace, queue and, per allowed site, the connection (None for the home cluster)."""
    return {
        "home": home,
        "queueLabel": QUEUE_LABEL,
        "teams": {
            team_role(t): {
                "namespace": team_namespace(t.name),
                "queue": TEAM_QUEUE,
                "sites": {ref: (None if ref == home else connection_id(ref))
                          for ref in task_sites(cfg, t)},
            }
            for t in pipeline_teams(cfg)
        },
    }


def roles_mapping(cfg: PlatformConfig) -> dict[str, list[str]]:
    """FAB's AUTH_ROLES_MAPPING: IdP group -> Airflow roles (admins -> Admin, each team's
    groups -> its role). A user in no listed group gets no role and sees nothing."""
    p = cfg.services.pipelines
    out: dict[str, list[str]] = {}
    for group in p.oidc.admin_groups if p else []:
        out.setdefault(group, []).append(ADMIN_ROLE)
    for team in pipeline_teams(cfg):
        for group in team.idp_groups:
            roles = out.setdefault(group, [])
            if team_role(team) not in roles:
                roles.append(team_role(team))
    return out


def custom_roles(cfg: PlatformConfig) -> dict[str, list[dict[str, str]]]:
    """Airflow's `[fab] custom_roles`: each team's role, created at start-up with the base
    permissions (its DAGs' own permissions come from their `access_control`)."""
    base = [{"action": a, "resource": r} for a, r in TEAM_BASE_PERMISSIONS]
    return {team_role(t): list(base) for t in pipeline_teams(cfg)}


def roles_for(mapping: dict[str, list[str]], groups: list[str]) -> list[str]:
    """The roles a user with these IdP groups gets (what FAB does with the mapping)."""
    return sorted({role for g in groups for role in mapping.get(g, [])})


def git_connection_id(team: Team) -> str:
    """The Airflow connection holding the team's repository and read-only deploy key."""
    return f"git_{site_slug(team.name)}"


def dag_bundles(cfg: PlatformConfig) -> list[dict[str, Any]]:
    """Airflow 3's `[dag_processor] dag_bundle_config_list`: one GitDagBundle per team, reading
    its repository over ssh with its own deploy-key connection (`git_<team>`)."""
    return [
        {
            "name": team_role(t),
            "classpath": "airflow.providers.git.bundles.git.GitDagBundle",
            "kwargs": {"git_conn_id": git_connection_id(t), "tracking_ref": t.pipelines.dag_branch,
                       "refresh_interval": 60},
        }
        for t in pipeline_teams(cfg) if t.pipelines
    ]
