"""Every Kubernetes object the dev and prod previews render, judged by a real API server.

Server-side apply in dry-run mode (see tests/e2e/validate.py for what is applied for real and
what stands in for what a real cluster already has), per cluster, with the platform's CRDs
installed from the operators' own modules. A refused object fails with the server's message.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import ROOT
from tests.e2e.binaries import versions
from tests.e2e.crds import SOURCES, UNAVAILABLE
from tests.e2e.objects import E2eMocks, e2e_objects
from tests.e2e.report import write_report
from tests.e2e.validate import validate_cluster

#: Every PodSecurity (or other) warning the server may give, with why it is accepted.
#: A warning not matched here fails the test: fix it in the component or justify it here.
JUSTIFIED_WARNINGS: dict[str, str] = {}


def test_the_server_is_the_on_prem_clusters_kubernetes(kube_apiserver):
    info = kube_apiserver.get("/version").body
    assert info["gitVersion"] == f"v{versions()['KUBERNETES_VERSION']}"


def test_pod_security_admission_is_enforced(kube_apiserver):
    """The admission chain is a production one: a root pod in a `restricted` namespace is refused."""
    ns = {"apiVersion": "v1", "kind": "Namespace",
          "metadata": {"name": "e2e-psa", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}
    assert kube_apiserver.apply(ns, dry_run=False).status < 300
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "e2e-psa"}}
    assert kube_apiserver.apply(sa, dry_run=False).status < 300
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root", "namespace": "e2e-psa"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    try:
        r = kube_apiserver.create(pod, dry_run=True)
        assert r.status == 403 and 'violates PodSecurity "restricted' in r.message
    finally:
        kube_apiserver.delete(sa)
        kube_apiserver.delete(ns)
        body = kube_apiserver.get("/api/v1/namespaces/e2e-psa").body
        if body.get("kind") == "Namespace":
            body["spec"]["finalizers"] = []
            kube_apiserver.request("PUT", "/api/v1/namespaces/e2e-psa/finalize", json=body)


def _prod_with_a_team(tmp) -> object:
    """Prod with notebooks, pipelines and team `fraud` using them, its work queues bursting to
    AWS: the team's objects (queues, MultiKueue, notebook access, task RoleBinding) that the
    committed stacks, which have no team, never render."""
    from tests.conftest import stack_platform, write_stack
    from tests.program.conftest import TEAM_FRAUD
    from tests.program.services.test_notebooks import NOTEBOOKS
    from tests.program.services.test_pipelines import SNIPPET

    platform = stack_platform("prod")
    platform["kubernetes"]["namespaces"] += [{"name": "notebooks"}, {"name": "airflow"}]
    platform["services"]["notebooks"] = NOTEBOOKS
    platform["services"]["pipelines"] = SNIPPET["pipelines"]
    platform["teams"] = [{**TEAM_FRAUD, "notebooks": True, "pipelines": {
        "dagRepo": "git@git.hml.internal:fraud/dags.git", "deployKeyKey": "fraudDagDeployKey"}}]
    return write_stack(tmp, "prod", platform)


#: The stacks judged: the committed dev and prod, and prod with a team on every service.
STACKS = {"dev": "dev", "prod": "prod", "prod-team": "prod"}


@pytest.fixture(scope="module")
def previews(tmp_path_factory):
    """The stacks previewed with `E2eMocks` (see tests/e2e/objects.py)."""
    from stacks.preview.run import run_preview

    out = {}
    for name, stack in STACKS.items():
        project = ROOT if name == stack else _prod_with_a_team(tmp_path_factory.mktemp(name))
        mocks = E2eMocks()
        out[name] = (run_preview(project, stack, resource_mocks=mocks), mocks)
    return out


def test_a_wrong_object_is_refused_with_the_servers_message(kube_apiserver, crds):
    """The harness sees refusals: what no offline schema catches, and a CRD's own schema."""
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "mismatch", "namespace": "default"},
                  "spec": {"selector": {"matchLabels": {"app": "a"}},
                           "template": {"metadata": {"labels": {"app": "b"}},
                                        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    r = kube_apiserver.apply(deployment, dry_run=True)
    assert r.status == 422 and "`selector` does not match template `labels`" in r.message
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
             "metadata": {"name": "bad", "namespace": "default"},
             "spec": {"rules": [{"backendRefs": [{"name": "svc", "port": 70000}]}]}}
    r = kube_apiserver.apply(route, dry_run=True)
    assert r.status == 422 and "port" in r.message


def test_crds_of_every_custom_resource_are_installed(kube_apiserver, crds, previews):
    used = {(o.body["apiVersion"], o.kind) for preview, _ in previews.values()
            for o in e2e_objects(preview)[0]}
    custom = {(av.rsplit("/", 1)[0], kind) for av, kind in used - kube_apiserver.builtin}
    missing = sorted(gk for gk in custom if gk not in crds.kinds)
    lines = [f"CRDs installed: {sum(map(len, crds.by_source.values()))}"]
    lines += [f"  {src}: {len(names)}" for src, names in crds.by_source.items()]
    lines.append(f"custom resource kinds in {'+'.join(STACKS)}: {len(custom)}; without a CRD: "
                 + (", ".join(f"{k} ({g})" for g, k in missing) or "none"))
    write_report("1-crds", "\n".join(lines))
    assert [gk for gk in missing if gk[0] not in UNAVAILABLE] == []
    assert len(crds.by_source) == len(SOURCES)


@pytest.mark.parametrize("stack", list(STACKS))
def test_every_object_is_accepted_by_the_real_api_server(stack, previews, kube_apiserver, crds):
    preview, mocks = previews[stack]
    objects, subs = e2e_objects(preview)
    clusters = sorted({o.cluster for o in objects})
    results = [validate_cluster(kube_apiserver, c, [o for o in objects if o.cluster == c]) for c in clusters]

    lines = [f"{stack}: {len(objects)} objects on {len(clusters)} clusters; stand-ins: "
             f"{len(mocks.stood_in)} generated outputs (random, tls), "
             f"{len(subs.secrets)} secret values sent as the preview has them, "
             f"{len(subs.unknowns)} unknown values"]
    lines += [f"    unknown: {u}" for u in subs.unknowns]
    for r in results:
        lines.append(f"  {r.cluster}: accepted {len(r.accepted)}, refused {len(r.refused)}, "
                     f"not sent {len(r.not_sent)} (no CRD); pod templates admitted "
                     f"{len(r.pods_admitted)}, refused {len(r.pods_refused)}; stand-ins {len(r.stand_ins)}; "
                     f"warnings {len(r.warnings)}")
        lines += [f"    REFUSED {m}" for m in r.refused + r.pods_refused]
        kinds = Counter(n.split(": ", 1)[1].split(" ", 1)[0] for n in r.not_sent)
        if kinds:
            lines.append("    not sent: " + ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())))
        lines += [f"    warning: {w}" for w in r.warnings]
    write_report(f"2-objects-{stack}", "\n".join(lines))

    refused = [m for r in results for m in r.refused + r.pods_refused]
    assert refused == [], "the real API server refused:\n" + "\n".join(refused)
    unjustified = [w for r in results for w in r.warnings
                   if not any(key in w for key in JUSTIFIED_WARNINGS)]
    assert unjustified == [], "warnings neither fixed nor justified:\n" + "\n".join(unjustified)
    assert sum(len(r.accepted) for r in results) + sum(len(r.not_sent) for r in results) == len(objects)
