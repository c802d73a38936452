"""Run inside .venv-airflow: Airflow's own DagBundlesManager reads
`[dag_processor] dag_bundle_config_list` (set by the caller's environment) and builds every
bundle as the DAG processor does (no clone), with its git connection from the environment;
print what each bundle follows and the repository and key its connection gives."""

from __future__ import annotations

import json


def main() -> None:
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    out = {b.name: {"class": type(b).__name__, "tracking_ref": b.tracking_ref,
                    "git_conn_id": b.git_conn_id, "refresh_interval": b.refresh_interval,
                    "repo_url": b.hook.repo_url, "key": b.hook.private_key}
           for b in DagBundlesManager().get_all_dag_bundles()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
