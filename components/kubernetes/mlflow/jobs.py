"""The server's Jobs: the schema migration once per image version, and the team workspaces once
per mapping and hourly (pure builders of their names, pod templates and specs).

Migrations run once per image version, before any server of that version starts. The Job's name
carries the image version: a new version is a new Job (a Job's template is immutable), an
unchanged one is left alone. Pulumi waits for the Job to complete; if every attempt fails
(JOB_BACKOFF_LIMIT retries within JOB_DEADLINE_SECONDS), the `pulumi up` fails, the Job stays in
the stack marked as failed to initialise, and the Deployment (which depends on it) is not
changed: the old servers keep running. `pulumi.com/replaceUnready` makes the next `pulumi up`
replace a failed Job, i.e. run the migration again once the cause is fixed
(runbooks/restore-mlflow.md, "Migration Job failed").
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from components.kubernetes import mlflow_auth
from components.kubernetes.mlflow.names import APP, APP_LABELS
from components.kubernetes.mlflow.pods import (
    AUTH_CONFIG_PATH,
    CONTAINER_SECURITY,
    MAPPING_PATH,
    POD_SECURITY,
    auth_mounts,
    auth_volumes,
    database_env,
    plain_env,
)
from components.kubernetes.objects import object_labels
from components.tags import StandardTags

#: The migration Job: retries, the deadline of all its attempts together, and how long Pulumi
#: waits for it (longer than the deadline, so Pulumi reports the Job's own outcome). The wait is
#: the provider's `pulumi.com/timeoutSeconds` annotation, which pulumi-kubernetes applies to
#: create and update alike (the same as `customTimeouts` for Kubernetes objects).
JOB_BACKOFF_LIMIT = 6
JOB_DEADLINE_SECONDS = 1800
JOB_PULUMI_TIMEOUT_SECONDS = 2400
#: When the workspace reconcile runs again (hourly, off the full hour).
RECONCILE_SCHEDULE = "17 * * * *"
RECONCILE_CRONJOB = f"{APP}-workspaces-reconcile"
#: `mlflow db upgrade`, with the URI read from the environment inside Python: a URI on the
#: command line (even as a kubelet-expanded `$(VAR)`) puts the password into the process's
#: argv, readable in /proc/<pid>/cmdline and `ps` on the node. An empty database gets MLflow's
#: initial schema first, as `mlflow server` does (`_initialize_tables`): the first migration
#: alters tables only that schema creates, so a bare `mlflow db upgrade` failed on an empty
#: database (mlflow issues #2113 and #23751, fixed in the CLI only by PR #23752).
DB_UPGRADE_SCRIPT = """\
import os
import sqlalchemy
from mlflow.store.db import utils
engine = utils.create_sqlalchemy_engine_with_retry(os.environ["MLFLOW_BACKEND_STORE_URI"])
tables = [t for t in sqlalchemy.inspect(engine).get_table_names() if not t.startswith("alembic_")]
if tables:
    print("upgrading the MLflow schema", flush=True)
    utils._upgrade_db(engine)
else:
    print("empty database: creating the MLflow schema", flush=True)
    utils._initialize_tables(engine)
print("schema at revision", utils._get_schema_version(engine), flush=True)
# The auth app's tables (users, roles, grants) live in the same database, migrated here too:
# every worker of every replica would otherwise run the same migrations at once on first start.
from mlflow.server.auth.db import utils as auth_utils
auth_utils.migrate_if_needed(engine, "head")
print("auth schema migrated", flush=True)
"""


def version_slug(ref: str) -> str:
    """The image's tag (for a digest-only reference: the digest) as a DNS-label fragment."""
    tag = ref.rsplit("/", 1)[-1].partition(":")[2].partition("@")[0] or "digest"
    return re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")[:40]


def job_labels(tags: StandardTags, component: str) -> dict[str, str]:
    """Labels of a Job and its pods: the server's app labels (the database rule admits them)."""
    return {**object_labels(tags), **APP_LABELS, "app.kubernetes.io/component": component}


def job_metadata(job: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    """A Job's metadata: Pulumi waits `JOB_PULUMI_TIMEOUT_SECONDS` and replaces a failed Job."""
    return {"name": job, "namespace": namespace, "labels": labels,
            "annotations": {"pulumi.com/replaceUnready": "true",
                            "pulumi.com/timeoutSeconds": str(JOB_PULUMI_TIMEOUT_SECONDS)}}


def job_pod_template(image: str, labels: dict[str, str], container: str, script: str,
                     env: list[dict[str, Any]], resources: dict[str, Any],
                     mounts: list[dict[str, Any]], volumes: list[dict[str, Any]]) -> dict[str, Any]:
    """A pod template running `python -c script` once, restricted like the servers.
    Secrets (the database URI) only in `env`, never in argv."""
    return {
        "metadata": {"labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": POD_SECURITY,
            "containers": [{
                "name": container,
                "image": image,
                "command": ["python", "-c", script],
                "env": env,
                "resources": resources,
                "securityContext": CONTAINER_SECURITY,
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *mounts],
            }],
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}, *volumes],
        },
    }


def migration_job_name(image: str) -> str:
    """`mlflow-db-upgrade-<image version>`: a new image version is a new Job."""
    return f"{APP}-db-upgrade-{version_slug(image)}"[:63].rstrip("-")


def migration_job_spec(image: str, labels: dict[str, str]) -> dict[str, Any]:
    """The schema migration (DB_UPGRADE_SCRIPT), retried within the deadline."""
    return {"backoffLimit": JOB_BACKOFF_LIMIT, "activeDeadlineSeconds": JOB_DEADLINE_SECONDS,
            "template": job_pod_template(
                image, labels, "db-upgrade", DB_UPGRADE_SCRIPT, database_env(),
                {"requests": {"cpu": "250m", "memory": "512Mi"},
                 "limits": {"cpu": "1", "memory": "1Gi"}},
                [], [])}


def workspaces_job_name(mapping: str) -> str:
    """`mlflow-workspaces-<hash>`: a new mapping or plugin is a new Job."""
    digest = hashlib.sha256((mapping + mlflow_auth.plugin_checksum()).encode()).hexdigest()[:10]
    return f"{APP}-workspaces-{digest}"


def workspaces_pod_template(image: str, labels: dict[str, str]) -> dict[str, Any]:
    """The workspace reconcile (mlflow_auth.WORKSPACES_SCRIPT), plugin and mapping mounted."""
    env = [*database_env(), {"name": "MLFLOW_AUTH_CONFIG_PATH", "value": AUTH_CONFIG_PATH},
           *plain_env(mlflow_auth.job_env(mlflow_auth.PLUGIN_DIR, MAPPING_PATH))]
    return job_pod_template(
        image, labels, "workspaces", mlflow_auth.WORKSPACES_SCRIPT, env,
        {"requests": {"cpu": "100m", "memory": "256Mi"},
         "limits": {"cpu": "500m", "memory": "512Mi"}},
        auth_mounts(), auth_volumes())


def workspaces_job_spec(pod: dict[str, Any]) -> dict[str, Any]:
    """Team workspaces and roles once per mapping, before the servers that grant them start."""
    return {"backoffLimit": JOB_BACKOFF_LIMIT, "activeDeadlineSeconds": JOB_DEADLINE_SECONDS,
            "template": pod}


def reconcile_cronjob_spec(pod: dict[str, Any]) -> dict[str, Any]:
    """The same, hourly: a MANAGE-tier team (its workspace's admins) may edit its own
    `team-members` role in MLflow; this puts the role back to the config's tier."""
    return {"schedule": RECONCILE_SCHEDULE, "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 600, "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"spec": {"backoffLimit": 2, "activeDeadlineSeconds": 900,
                                     "template": pod}}}
