"""The GitHub workflows parse, call only what the README documents, and keep their promises:
previews of every stack without secrets on pull requests, reports published even when a preview
fails, the policy pack on every real Pulumi run, OIDC-only cloud credentials, prod behind dev."""

from __future__ import annotations

import itertools
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
STACKS = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"]
PROJECT_COMMANDS = ("make", ".venv/bin/hybrid-ml", "hybrid-ml", "pulumi")


def _load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the bare key `on` as the boolean True.
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


WORKFLOWS = {p.name: _load(p) for p in sorted(WORKFLOW_DIR.glob("*.y*ml"))}


def _triggers(wf: dict[str, Any]) -> dict[str, Any]:
    on = wf["on"]
    if isinstance(on, str):
        return {on: None}
    return dict.fromkeys(on) if isinstance(on, list) else on


def _matrix(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the job's matrix (axes crossed, then `include` entries)."""
    matrix = dict(job.get("strategy", {}).get("matrix", {}))
    include = matrix.pop("include", [])
    matrix.pop("exclude", None)
    axes = itertools.product(*matrix.values())
    combos = [dict(zip(matrix, values, strict=True)) for values in axes]
    return [c for c in combos if c] + include or [{}]


def _callers(file: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, wf in WORKFLOWS.items():
        for job_id, job in wf["jobs"].items():
            if job.get("uses") == f"./.github/workflows/{file}":
                yield name, job_id, job


def _expand(text: str, context: dict[str, Any]) -> str:
    """Substitute `${{ matrix.x }}` / `${{ inputs.x }}` known in `context`; leave the rest."""
    def value(m: re.Match[str]) -> str:
        return str(context.get(m.group(1), m.group(0)))
    return re.sub(r"\$\{\{\s*((?:matrix|inputs)\.[\w-]+)\s*\}\}", value, str(text))


def _contexts(file: str, job: dict[str, Any]) -> list[dict[str, Any]]:
    """The values `matrix.*` and `inputs.*` take in a job: its matrix, and for a reusable
    workflow every caller's `with:` under every caller's matrix combination."""
    own = [{f"matrix.{k}": v for k, v in combo.items()} for combo in _matrix(job)]
    if "workflow_call" not in _triggers(WORKFLOWS[file]):
        return own
    return [
        {**ctx, **{f"inputs.{k}": _expand(v, {f"matrix.{mk}": mv for mk, mv in combo.items()})
                   for k, v in caller.get("with", {}).items()}}
        for _, _, caller in _callers(file) for combo in _matrix(caller) for ctx in own
    ]


def _steps(action: str | None = None) -> Iterator[tuple[str, str, dict, dict]]:
    for file, wf in WORKFLOWS.items():
        for job_id, job in wf["jobs"].items():
            for step in job.get("steps", []):
                if action is None or step.get("uses", "").split("@")[0] == action:
                    yield file, job_id, job, step


def _permissions(file: str, job: dict[str, Any]) -> list[dict[str, str]]:
    """What a job may do: its own grant, else its workflow's, else (reusable) each caller's."""
    if "permissions" in job:
        return [job["permissions"] or {}]
    if "permissions" in WORKFLOWS[file]:
        return [WORKFLOWS[file]["permissions"] or {}]
    return [caller.get("permissions", {}) for _, _, caller in _callers(file)]


def _required(job: dict[str, Any], condition: str) -> bool:
    """`condition` is one of the `&&`-joined terms of the job's `if` (no `||` to get around it)."""
    expression = str(job.get("if", "")).strip().removeprefix("${{").removesuffix("}}")
    terms = [" ".join(t.split()) for t in expression.split("&&")]
    return "||" not in expression and condition in terms


def _after_failure(step: dict[str, Any]) -> bool:
    return bool(re.search(r"always\(\)|!\s*cancelled\(\)", str(step.get("if", ""))))


# --- what the README and the Makefile offer ---------------------------------------------------

def _commands(script: str) -> Iterator[str]:
    """The simple commands of a shell script: continuations joined, heredoc bodies, comments and
    redirections dropped, split at `&&`, `||`, `;` and `|`."""
    heredoc = None
    for line in script.replace("\\\n", " ").splitlines():
        if heredoc:
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        if m := re.search(r"<<-?\s*['\"]?(\w+)", line):
            heredoc = m.group(1)
        line = re.sub(r"(^|\s)#.*", "", line)
        line = re.sub(r"\s\d*(<<-?|>>|[<>]&?)\s*\S+", " ", line)
        for part in re.split(r"&&|\|\||[;|]", line):
            try:
                words = shlex.split(part)
            except ValueError:  # prose in a code block, an unbalanced quote
                words = part.split()
            while words and re.fullmatch(r"\w+=\S*", words[0]):
                words.pop(0)
            if words:
                yield " ".join(words)


_PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*(/[A-Z0-9_]+)*")  # DIR, PATH/TO/PACK


def _pattern(documented: str) -> re.Pattern[str]:
    """A README command as a regex: `[...]` optional, UPPER_CASE words placeholders."""
    regex = ""
    for token in documented.split():
        word = token.strip("[]")
        literal = r"\S+" if _PLACEHOLDER.fullmatch(word) else re.escape(word)
        regex += "(?:" * (len(token) - len(token.lstrip("["))) + r"\s+" + literal
        regex += ")?" * (len(token) - len(token.rstrip("]")))
    return re.compile(regex)


README = (ROOT / "README.md").read_text()
DOCUMENTED = [
    _pattern(cmd)
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", README, re.MULTILINE | re.DOTALL)
    for cmd in _commands(block)
    if cmd.split()[0] in PROJECT_COMMANDS
]
MAKEFILE = (ROOT / "Makefile").read_text()
MAKE_RECIPES = {
    m.group(1): re.findall(r"^\t(.*)$", m.group(2), re.MULTILINE)
    for m in re.finditer(r"^([A-Za-z][\w.-]*)\s*:(?!=)[^\n]*\n((?:\t[^\n]*\n?)*)", MAKEFILE,
                         re.MULTILINE)
}


def _is_documented(command: str) -> bool:
    words = command.split()
    if words[0] == "make" and len(words) == 2 and words[1] in MAKE_RECIPES:
        return True
    return any(p.fullmatch(" " + command) for p in DOCUMENTED)


# --- tests --------------------------------------------------------------------------------------

def test_the_readme_parser_finds_the_documented_commands() -> None:
    assert _is_documented("make preview") and _is_documented("make test")
    assert _is_documented(".venv/bin/hybrid-ml preview prod --out build/x")
    assert _is_documented("pulumi install")
    assert not _is_documented("make deploy-everything")
    assert not _is_documented(".venv/bin/hybrid-ml preview prod --force")


def test_workflows_exist_and_parse() -> None:
    expected = {"pull-request.yml", "pull-request-report.yml", "pulumi.yml", "deploy.yml"}
    assert expected <= set(WORKFLOWS)
    for file, wf in WORKFLOWS.items():
        assert wf.get("name") and wf.get("on") and wf.get("jobs"), file


def test_every_job_runs_steps_or_calls_a_local_workflow() -> None:
    for file, wf in WORKFLOWS.items():
        for job_id, job in wf["jobs"].items():
            if "uses" in job:
                called = job["uses"].removeprefix("./.github/workflows/")
                assert called in WORKFLOWS, f"{file}:{job_id} calls a missing {job['uses']}"
                assert "workflow_call" in _triggers(WORKFLOWS[called])
                continue
            assert job.get("runs-on") and job.get("steps"), f"{file}:{job_id}"
            for step in job["steps"]:
                assert ("uses" in step) != ("run" in step), f"{file}:{job_id}: {step}"


def test_actions_are_pinned_to_a_major_version() -> None:
    for file, job_id, _, step in _steps():
        if "uses" in step and not step["uses"].startswith("./"):
            assert re.search(r"@(v\d+(\.\d+)*|[0-9a-f]{40})$", step["uses"]), f"{file}:{job_id}"


def test_no_workflow_reads_repository_secrets() -> None:
    # Credentials come from OIDC; a `secrets.` reference would also break fork pull requests.
    for file, wf in WORKFLOWS.items():
        assert "secrets." not in yaml.safe_dump(wf), file
        assert "pull_request_target" not in _triggers(wf), f"{file}: PR code with a write token"


def test_project_commands_in_workflows_are_the_documented_ones() -> None:
    seen = []
    for file, _, job, step in _steps():
        for context in _contexts(file, job) if "run" in step else []:
            for command in _commands(_expand(step["run"], context)):
                if command.split()[0] in PROJECT_COMMANDS:
                    seen.append(command)
                    assert _is_documented(command), f"{file}: `{command}` is not in the README"
    assert "make test" in seen and "pulumi install" in seen


def _preview_jobs() -> list[dict[str, Any]]:
    wf = WORKFLOWS["pull-request.yml"]
    assert "pull_request" in _triggers(wf)
    jobs = wf["jobs"].values()
    return [j for j in jobs if any(s.get("id") == "preview" for s in j.get("steps", []))]


def test_pull_requests_preview_every_stack_with_its_own_command() -> None:
    (job,) = _preview_jobs()
    assert sorted(c["stack"] for c in _matrix(job)) == STACKS
    for combo in _matrix(job):
        target = combo["command"].removeprefix("make ")
        recipe = " ".join(MAKE_RECIPES[target])
        assert f"hybrid-ml preview {combo['stack']}" in recipe, combo


def test_a_failing_preview_still_fails_the_job_after_its_reports_are_uploaded() -> None:
    (job,) = _preview_jobs()
    steps = job["steps"]
    preview = next(i for i, s in enumerate(steps) if s.get("id") == "preview")
    assert not steps[preview].get("continue-on-error")
    if "|" in steps[preview]["run"]:  # only bash's -o pipefail keeps the preview's exit code
        assert steps[preview].get("shell") == "bash"
    upload = next(s for s in steps[preview:] if "actions/upload-artifact@" in s.get("uses", ""))
    assert _after_failure(upload)
    for combo in _matrix(job):
        assert _expand(upload["with"]["path"], {"matrix.stack": combo["stack"]}).rstrip("/") == \
            f"build/{combo['stack']}"


def test_the_report_workflow_follows_the_preview_and_uploads_sarif_per_stack() -> None:
    report = WORKFLOWS["pull-request-report.yml"]
    assert WORKFLOWS["pull-request.yml"]["name"] in _triggers(report)["workflow_run"]["workflows"]
    uploads = list(_steps("github/codeql-action/upload-sarif"))
    assert uploads
    for file, job_id, job, step in uploads:
        assert _after_failure(step), f"{file}:{job_id} must upload after a failed preview"
        assert all(p.get("security-events") == "write" for p in _permissions(file, job))
        contexts = _contexts(file, job)
        assert sorted(c["matrix.stack"] for c in contexts) == STACKS
        categories = {_expand(step["with"]["category"], c) for c in contexts}
        assert len(categories) == len(STACKS), "one code scanning category per stack"
        for c in contexts:
            sarif = _expand(step["with"]["sarif_file"], c)
            assert sarif == f"build/{c['matrix.stack']}/policy-report.sarif"


def test_jobs_that_write_on_pull_requests_never_run_for_forks() -> None:
    for file, wf in WORKFLOWS.items():
        if "pull_request" not in _triggers(wf):
            continue
        for job_id, job in wf["jobs"].items():
            if any("write" in p.values() for p in _permissions(file, job)):
                assert _required(job, "github.event.pull_request.head.repo.full_name == "
                                 "github.repository"), f"{file}:{job_id}"


def test_live_preview_is_opt_in() -> None:
    jobs = [j for j in WORKFLOWS["pull-request.yml"]["jobs"].values() if "uses" in j]
    assert jobs and all(j["with"]["command"] == "preview" for j in jobs)
    assert all(_required(j, "vars.PULUMI_LIVE_PREVIEW == 'true'") for j in jobs)


def test_pulumi_runs_enforce_the_policy_pack_with_the_stack_config() -> None:
    runs = [s for s in _steps("pulumi/actions") if "command" in s[3].get("with", {})]
    assert runs
    for file, _, job, step in runs:
        args = step["with"]
        assert args["policyPacks"] == "policies" and (ROOT / "policies/PulumiPolicy.yaml").is_file()
        contexts = _contexts(file, job)
        assert {c["inputs.command"] for c in contexts} == {"preview", "up"}
        for c in contexts:
            assert (ROOT / _expand(args["policyPackConfigs"], c)).is_file(), c
            assert _expand(args["stack-name"], c).endswith(f"/{PROJECT}/{c['inputs.stack']}")
        assert args.get("comment-on-pr") is True


OIDC = {
    "aws-actions/configure-aws-credentials": ({"role-to-assume"},
                                              {"aws-access-key-id", "aws-secret-access-key"}),
    "google-github-actions/auth": ({"workload_identity_provider", "service_account"},
                                   {"credentials_json"}),
    "azure/login": ({"client-id", "tenant-id", "subscription-id"}, {"creds", "client-secret"}),
    "pulumi/auth-actions": ({"organization", "requested-token-type"}, set()),
}


@pytest.mark.parametrize("action", sorted(OIDC))
def test_cloud_credentials_come_from_oidc(action: str) -> None:
    required, forbidden = OIDC[action]
    found = list(_steps(action))
    assert found, f"no {action} step"
    for file, job_id, job, step in found:
        args = set(step.get("with", {}))
        assert required <= args and not forbidden & args, f"{file}:{job_id}"
        grants = _permissions(file, job)
        assert all(p.get("id-token") == "write" for p in grants), f"{file}:{job_id}"


def test_prod_deploys_after_dev_behind_its_protected_environment() -> None:
    deploy = WORKFLOWS["deploy.yml"]
    assert _triggers(deploy)["push"]["branches"] == ["main"]
    jobs = {j["with"]["stack"]: (job_id, j) for job_id, j in deploy["jobs"].items()}
    assert set(jobs) == set(STACKS)
    dev_id, _ = jobs["dev"]
    _, prod = jobs["prod"]
    assert dev_id in ([prod["needs"]] if isinstance(prod["needs"], str) else prod["needs"])
    called = WORKFLOWS[prod["uses"].removeprefix("./.github/workflows/")]
    for stack, (_, job) in jobs.items():
        assert job["with"] == {"command": "up", "stack": stack, "environment": stack}
        assert job["concurrency"]["cancel-in-progress"] is False
        assert stack in job["concurrency"]["group"]
    assert all(j["environment"] == "${{ inputs.environment }}" for j in called["jobs"].values())


def test_cluster_credential_plugins_come_with_their_cloud_login() -> None:
    # GKE kubeconfigs exec gke-gcloud-auth-plugin and AKS ones kubelogin; a live preview without
    # them fails at the first Kubernetes resource of that cloud.
    steps = WORKFLOWS["pulumi.yml"]["jobs"]["pulumi"]["steps"]
    uses = {s.get("uses", "").split("@")[0]: s for s in steps}
    gcloud = uses["google-github-actions/setup-gcloud"]
    assert "gke-gcloud-auth-plugin" in gcloud["with"]["install_components"]
    assert gcloud["if"] == uses["google-github-actions/auth"]["if"]
    kubelogin = uses["azure/use-kubelogin"]
    assert kubelogin["with"]["kubelogin-version"].startswith("v")  # pinned, not latest
    assert kubelogin["if"] == uses["azure/login"]["if"]
    order = [s.get("uses", "").split("@")[0] for s in steps]
    pulumi_run = max(i for i, u in enumerate(order) if u == "pulumi/actions")
    assert order.index("azure/use-kubelogin") < pulumi_run
    assert order.index("google-github-actions/setup-gcloud") < pulumi_run
