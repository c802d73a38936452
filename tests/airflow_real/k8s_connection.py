"""Run inside .venv-airflow: the cncf.kubernetes provider's KubernetesHook reads the connection
given by id (from the caller's AIRFLOW_CONN_* environment) and builds its API client, as a
KubernetesJobOperator does; print the API server and credentials it would use (no request)."""

from __future__ import annotations

import json
import sys


def main(conn_id: str) -> None:
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

    hook = KubernetesHook(conn_id=conn_id)
    client = hook.get_conn()
    cfg = client.configuration
    bearer = cfg.auth_settings().get("BearerToken", {}).get("value")
    print(json.dumps({"host": cfg.host, "authorization": bearer,
                      "in_cluster": hook._is_in_cluster, "ca": bool(cfg.ssl_ca_cert)}))


if __name__ == "__main__":
    main(sys.argv[1])
