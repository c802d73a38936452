"""Run inside .venv-airflow: parse a DAG folder with Airflow's own DagBag and print, as JSON,
the import errors and each task's placement (namespace, labels, in_cluster, connection)."""

from __future__ import annotations

import json
import sys


def main(folder: str) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=folder, safe_mode=False)
    out: dict = {"errors": {k: v.splitlines()[-1] for k, v in bag.import_errors.items()}, "dags": {}}
    for dag_id, dag in bag.dags.items():
        out["dags"][dag_id] = {
            "access_control": {r: {k: sorted(v) for k, v in p.items()}
                               for r, p in (dag.access_control or {}).items()},
            "tasks": {t.task_id: {"namespace": t.namespace, "labels": t.labels,
                                  "in_cluster": t.in_cluster, "conn": t.kubernetes_conn_id,
                                  "restricted": bool(t.security_context.get("runAsNonRoot"))
                                  and t.container_security_context.get("allowPrivilegeEscalation") is False,
                                  "downstream": sorted(t.downstream_task_ids)}
                      for t in dag.tasks},
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
