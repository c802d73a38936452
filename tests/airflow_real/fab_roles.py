"""Run inside .venv-airflow: Airflow's FAB auth manager with the platform's generated
webserver_config.py and `[fab] custom_roles` (set by the caller's environment) on a fresh
SQLite metadata database. Syncs the roles, applies the DAGs' access_control, then prints as
JSON, per IdP group set given, the roles FAB grants a user at sign-in and the DAGs they may
read and run."""

from __future__ import annotations

import json
import sys


def main(cases_json: str, access_json: str) -> None:
    from airflow.providers.fab.www.app import create_app

    cases = json.loads(cases_json)
    access = json.loads(access_json)
    app = create_app(enable_plugins=False)
    with app.app_context():
        sm = app.appbuilder.sm
        sm.sync_roles()
        for dag_id, control in access.items():
            sm.sync_perm_for_dag(dag_id, {r: {k: set(v) for k, v in p.items()} for r, p in control.items()})
        out = {"_manager": type(sm).__name__}
        for name, groups in cases.items():
            info = type(sm).get_oauth_user_info(sm, "platform-idp", {"userinfo": {
                "sub": name, "email": f"{name}@example.com", app.config["GROUP_CLAIM"]: groups}})
            roles = sm.get_roles_from_keys(info["role_keys"])
            perms = {(p.action.name, p.resource.name) for r in roles for p in r.permissions}
            out[name] = {
                "roles": sorted(r.name for r in roles),
                "read": sorted(d for d in access if ("can_read", f"DAG:{d}") in perms
                               or ("can_read", "DAGs") in perms),
                "run": sorted(d for d in access if ("can_create", f"DAG Run:{d}") in perms
                              or ("can_create", "DAG Runs") in perms),
            }
        print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
