"""A hybrid pipeline on the platform (Airflow 3): ingest on a cloud site, train on-prem with
MLflow tracking into the team's workspace, register the model, roll the serving canary.

Put it in the team's DAG repository (`teams[].pipelines.dagRepo`); Airflow reads it into the
team's DAG bundle. Each task is a Kubernetes Job (which Kueue admits); `hybridml_sites.place`
puts it in the team's namespace on the site named, through the team's Kueue queue, and refuses
(at parse time) a site the team's data classification does not allow. Sites used here: `aws/eu-west-1` and `onprem`.
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.cncf.kubernetes.operators.job import KubernetesJobOperator
from airflow.sdk import DAG
from hybridml_sites import place

INGEST_SITE = "aws/eu-west-1"
TRAIN_SITE = "onprem"
IMAGE = "registry.example.com/fraud/pipeline:1.4.0"
#: The team's MLflow on-prem (in-cluster Service); the workspace is the team's namespace.
MLFLOW = {"MLFLOW_TRACKING_URI": "http://mlflow.mlflow.svc:5000", "MLFLOW_WORKSPACE": "team-fraud"}
MODEL = "fraud-detector"
#: Every task waits for its Job (queued in Kueue first, then run).
JOB = {"image": IMAGE, "wait_until_job_complete": True, "backoff_limit": 1}

with DAG(
    dag_id="fraud_hybrid_pipeline",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["hybrid", "fraud"],
    access_control={"team-fraud": {"DAGs": {"can_read", "can_edit"},
                                   "DAG Runs": {"can_read", "can_create"}}},
) as dag:
    ingest = place(KubernetesJobOperator(
        task_id="ingest",
        **JOB,
        cmds=["python", "-m", "pipeline.ingest"],
        arguments=["--date", "{{ ds }}", "--out", "s3://team-fraud/features/{{ ds }}/"],
    ), INGEST_SITE)
    train = place(KubernetesJobOperator(
        task_id="train",
        **JOB,
        cmds=["python", "-m", "pipeline.train"],
        arguments=["--features", "s3://team-fraud/features/{{ ds }}/", "--experiment", MODEL,
                   "--airflow-run", "{{ run_id }}"],
        env_vars=MLFLOW,
        container_resources={"limits": {"nvidia.com/gpu": "1"}},
    ), TRAIN_SITE)
    register = place(KubernetesJobOperator(
        task_id="register_model",
        **JOB,
        cmds=["python", "-m", "pipeline.register"],
        arguments=["--airflow-run", "{{ run_id }}", "--experiment", MODEL, "--name", MODEL],
        env_vars=MLFLOW,
    ), TRAIN_SITE)
    canary = place(KubernetesJobOperator(
        task_id="roll_canary",
        **JOB,
        cmds=["python", "-m", "pipeline.canary"],
        arguments=["--model", MODEL, "--traffic-percent", "10"],
        env_vars=MLFLOW,
    ), TRAIN_SITE)
    ingest >> train >> register >> canary
