"""Airflow 3 for the teams' pipelines (the official chart, `services.pipelines`).

Modules: `values` (the chart's values, pure), `webserver_config` (FAB OAuth sign-in and the
group -> role mapping, as the API server's config file), `connections` (the environment
Secret: OIDC client secret, git deploy keys, on-prem log store keys), `hybridml_sites` (the
module the DAGs import to place tasks), `airflow` (the component).
"""

from components.kubernetes.pipelines.airflow import Airflow, AirflowArgs, MetadataDatabase
from components.kubernetes.pipelines.connections import LOG_CONNECTION, GitSource, S3Logs

__all__ = ["LOG_CONNECTION", "Airflow", "AirflowArgs", "GitSource", "MetadataDatabase", "S3Logs"]
