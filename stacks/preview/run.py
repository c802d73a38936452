"""The offline preview: validate config, run the program under mocks, produce the plan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stacks.checks.problems import ROOT_PATH, ConfigError, ConfigProblem
from stacks.config.platform import CONFIG_KEY, PlatformConfig
from stacks.plan.clusters import planned_clusters
from stacks.preview.manifests import (
    ValidationResult,
    helm_releases,
    kubernetes_objects,
    validate_objects,
)
from stacks.preview.offline import Capture, Captured, default_provider_violations, run_program
from stacks.preview.plan_file import build_plan
from stacks.preview.secret_config import plaintext_secrets, secret_keys
from stacks.preview.stack_file import StackFile, read_stack
from stacks.program.main import main
from stacks.program.validate import parse_platform

#: Offline there is no secrets provider to decrypt `secure:` values. Each secret
#: config key gets this stand-in, set as a Pulumi secret so it flows like one.
PLACEHOLDER = "offline-preview-placeholder-not-a-real-secret"


class PreviewError(Exception):
    """The program ran but the engine would refuse the result."""


@dataclass
class PreviewResult:
    stack_file: StackFile
    config: PlatformConfig
    plan: dict[str, Any]
    diagnostics: list[str]
    #: The raw registrations (wire form, secrets wrapped); never written anywhere as is.
    capture: Capture
    #: The schema check of every Kubernetes object against its cluster's version.
    schema_check: ValidationResult


def load_platform(stack_file: StackFile) -> PlatformConfig:
    """The stack's validated platform config, or `ConfigError` (also for a plaintext secret)."""
    key = f"{stack_file.project}:{CONFIG_KEY}"
    if key in stack_file.secure_keys:
        raise ConfigError([ConfigProblem(ROOT_PATH, "<secure value>",
                                         "must be plain config; only the secrets it names are secret")])
    if key not in stack_file.config:
        raise ConfigError([ConfigProblem(ROOT_PATH, None, "missing; the stack file needs it")])
    cfg = parse_platform(stack_file.config[key])
    # The preview is the pull-request check: a secret committed in plaintext must fail it.
    problems = plaintext_secrets(stack_file, cfg)
    if problems:
        raise ConfigError(problems)
    return cfg


def _secret_keys(stack_file: StackFile, cfg: PlatformConfig) -> list[str]:
    return sorted(set(stack_file.secure_keys) | set(secret_keys(stack_file.project, cfg)))


def run_preview(
    project_dir: Path,
    stack: str,
    on_register: Callable[[Captured], None] | None = None,
    program: Callable[[], None] | None = None,
    resource_mocks: Any = None,
) -> PreviewResult:
    """Preview `stack` of the project in `project_dir` without a CLI, backend or cloud."""
    stack_file = read_stack(project_dir, stack)
    cfg = load_platform(stack_file)
    capture = run_program(
        program or main,
        project=stack_file.project,
        stack_name=stack,
        config=stack_file.config,
        secret_values={k: PLACEHOLDER for k in _secret_keys(stack_file, cfg)},
        on_register=on_register,
        resource_mocks=resource_mocks,
    )
    disabled = stack_file.config.get("pulumi:disable-default-providers") or []
    problems = default_provider_violations(capture, list(disabled))
    if problems:
        raise PreviewError("\n".join(problems))
    plan = build_plan(capture)
    plan["helmReleases"] = helm_releases(plan)
    versions = {c.name: c.version for c in planned_clusters(cfg)}
    schema_check = validate_objects(kubernetes_objects(plan), versions)
    if schema_check.errors:
        # The API server would refuse these objects at `pulumi up`; fail now, naming each field.
        raise PreviewError("Kubernetes objects fail their schema:\n" + "\n".join(schema_check.errors))
    return PreviewResult(
        stack_file=stack_file, config=cfg, plan=plan,
        diagnostics=capture.diagnostics, capture=capture, schema_check=schema_check,
    )
