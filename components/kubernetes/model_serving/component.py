"""ModelServing: one registered model's stable (and canary) versions on one cluster.

The constructor reads as a table of contents; the specs come from the pure builders of
`pod.py` and `routes.py`.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.model_serving.args import ModelServingArgs, ServedVersion
from components.kubernetes.model_serving.contract import INFERENCE_PATH
from components.kubernetes.model_serving.pod import (
    autoscaler_spec,
    base_labels,
    deployment_spec,
    disruption_budget_spec,
    service_spec,
    version_metadata,
)
from components.kubernetes.model_serving.routes import (
    health_route_spec,
    inference_route_spec,
    jwt_policy_spec,
    upstream_policy_spec,
)
from components.kubernetes.objects import ENVOY_GATEWAY_API, GATEWAY_API, known_name


class ModelServing(pulumi.ComponentResource):
    """A model's stable (and canary) versions on one cluster, split by weight on one route.

    Creates a ServiceAccount (no API token mounted), per version a Deployment, a Service, an
    autoscaling/v2 HorizontalPodAutoscaler and, with at least two replicas, a PodDisruptionBudget
    (minAvailable 1); an HTTPRoute `<model>` for `POST /invocations` splitting requests by weight,
    and one, `<model>-health`, for `GET /ping` (stable only), on the platform Gateway and, with
    `public_hostname`, on `serving-public`; a BackendTrafficPolicy closing idle upstream
    connections before the server does; a SecurityPolicy requiring a JWT on inference when
    `auth` is set. The routes are what the serving alerts measure (Envoy clusters
    `httproute/<namespace>/<model>/rule/0` and `.../<model>-health/rule/0`): keep their names.

    Guarantees: pods run only on GPU nodes of the accepted types (on-demand unless `spot`),
    tolerate the GPU taint of every target, request GPUs with equal limits and CPU/memory with
    limits, run non-root with no capabilities, no privilege escalation, RuntimeDefault seccomp
    and a read-only root filesystem; rollouts add a pod before removing one (maxUnavailable 0);
    only the inference and health paths are routed (not `/version`).
    """

    url: str
    public_url: str | None
    weights: dict[str, int]
    service_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ModelServingArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:kubernetes:ModelServing", name, None, opts)
        ns, model = args.namespace, args.model
        base = base_labels(args)
        after = list(args.after)

        account = k8s.core.v1.ServiceAccount(
            f"{name}-account",
            metadata={"name": model, "namespace": ns, "labels": base},
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )
        services = {v.track: served_version(name, args, v, base, account, self)
                    for v in args.versions}

        # The SecurityPolicy first, the inference route only after it: Envoy Gateway applies a
        # policy to a route that appears later, so the route (public too) is never served
        # without token validation, not even for a moment on create or replace.
        auth_first: list[pulumi.Resource] = []
        if args.auth is not None:
            auth_first.append(k8s.apiextensions.CustomResource(
                f"{name}-jwt", api_version=ENVOY_GATEWAY_API, kind="SecurityPolicy",
                metadata={"name": f"{model}-jwt", "namespace": ns, "labels": base},
                spec=jwt_policy_spec(model, args.auth),
                opts=pulumi.ResourceOptions(parent=self, depends_on=after)))
        route = k8s.apiextensions.CustomResource(
            f"{name}-route", api_version=GATEWAY_API, kind="HTTPRoute",
            metadata={"name": model, "namespace": ns, "labels": base},
            spec=inference_route_spec(args),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, *services.values(),
                                                                 *auth_first]))
        health_route = k8s.apiextensions.CustomResource(
            f"{name}-health-route", api_version=GATEWAY_API, kind="HTTPRoute",
            metadata={"name": f"{model}-health", "namespace": ns, "labels": base},
            spec=health_route_spec(args),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, *services.values()]))
        k8s.apiextensions.CustomResource(
            f"{name}-upstream", api_version=ENVOY_GATEWAY_API, kind="BackendTrafficPolicy",
            metadata={"name": f"{model}-upstream", "namespace": ns, "labels": base},
            spec=upstream_policy_spec(model),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, route, health_route]))

        self.url = f"https://{args.hostname}{INFERENCE_PATH}"
        self.public_url = (f"https://{args.public_hostname}{INFERENCE_PATH}"
                           if args.public_hostname else None)
        self.weights = {v.track: v.weight for v in args.versions}
        self.service_names = {t: known_name(s, f"{model}-{t}") for t, s in services.items()}
        self.register_outputs({"url": self.url, "public_url": self.public_url,
                               "weights": self.weights})


def served_version(name: str, args: ModelServingArgs, version: ServedVersion,
                   base: dict[str, str], account: pulumi.Resource,
                   parent: pulumi.Resource) -> k8s.core.v1.Service:
    """One track: its Deployment, Service, autoscaler and (two replicas or more) disruption
    budget. Returns the Service (what the routes point at)."""
    track, after = version.track, list(args.after)
    meta = version_metadata(args, version, base)
    inside = pulumi.ResourceOptions(parent=parent, depends_on=after)
    deployment = k8s.apps.v1.Deployment(
        f"{name}-{track}", metadata=meta, spec=deployment_spec(args, version, meta["labels"]),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*after, account]))
    service = k8s.core.v1.Service(f"{name}-{track}-service", metadata=meta,
                                  spec=service_spec(args, version), opts=inside)
    k8s.autoscaling.v2.HorizontalPodAutoscaler(
        f"{name}-{track}-autoscaler", metadata=meta, spec=autoscaler_spec(args, version),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[deployment]))
    budget = disruption_budget_spec(args, version)
    if budget is not None:
        k8s.policy.v1.PodDisruptionBudget(f"{name}-{track}-disruption-budget", metadata=meta,
                                          spec=budget, opts=inside)
    return service
