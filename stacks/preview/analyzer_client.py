"""Run a CrossGuard policy pack offline over the Pulumi CLI's Analyzer gRPC protocol.

Facts from pulumi 3.272 / pulumi_policy 1.21 and the CLI's Go sources (plugin/analyzer_plugin.go,
resource/analyzer/config.go, engine/plugins.go, deploy/step_generator.go):

* Launch: the CLI's python shim runs ``python -u -m pulumi.policy ENGINE_ADDRESS .`` in the pack dir
  (env PULUMI_PROJECT/STACK/DRY_RUN); ``pulumi/policy/__main__.py`` runs ``runpy.run_path(".")``,
  i.e. ``__main__.py`` with the pack dir first on sys.path. ``PolicyPack(...)`` serves on
  127.0.0.1:0 and prints the port as the first stdout line, then sleeps until killed.
* Engine: pulumi_policy 1.21 parses ENGINE_ADDRESS but never dials it; ``pulumi.log`` in a policy
  falls back to stderr. We still serve a minimal Engine (Log) and keep stdout/stderr lines as logs.
* Handshake: newer CLIs call it first and accept UNIMPLEMENTED, which is what 1.21 answers. Then
  ConfigureStack, GetAnalyzerInfo, Configure, GetPluginInfo, Analyze per resource, AnalyzeStack.
* Configure: the config file ({"p": "disabled"} or {"p": {"enforcementLevel": .., **props}}; "all"
  sets every level) is laid over schema defaults and the pack's initialConfig, validated against
  each configSchema (JSON Schema; we check type/enum/required/properties/items) and sent for every
  policy. Copied quirk: PolicyConfig.enforcementLevel has no presence, so an initialConfig entry
  without a level arrives as "advisory" and overrides the policy's own level.
* Analyze: the CLI analyses *every* registered resource (providers, components, the stack) and
  pins diagnostics to that URN. Per our brief only custom non-provider records are analysed unless
  ``analyze_all_resources=True``. AnalyzeStack gets every record. Remediate is not called: a policy
  at "remediate" that still fails is reported as mandatory, as the CLI does after remediating.
* Unknowns: pulumi_policy proxies inputs and raises UnknownValueError when a policy reads an
  unknown, then *replaces the verdict with an ADVISORY diagnostic* ("can't run policy '<p>' from
  policy pack '<pack>@v<ver>' during preview: ..."), whatever the policy's level. We match exactly
  that message and move it to ``PackResult.undecided`` with the policy's real level.
* Secrets: pulumi_policy unwraps secrets for Analyze, so policies see (and may echo) plaintext.
  plan.json has no plaintext, so "[secret]" becomes a wire secret wrapping the unknown sentinel:
  a policy that reads it (even ``"k" in props``) is undecided rather than passed on a placeholder.
"""

from __future__ import annotations

import collections
import os
import queue
import subprocess
import sys
import threading
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as pb
from pulumi.runtime.proto import analyzer_pb2_grpc, engine_pb2_grpc

from stacks.preview.analyzer_wire import provider_record, resource_options, to_wire
from stacks.preview.policy_settings import (
    LEVELS,
    PolicyConfigError,
    level_enum,
    parse_config,
    reconcile,
)

_SEVERITY = {1: "low", 2: "medium", 3: "high", 4: "critical"}


_GRPC_OPTS = [("grpc.max_receive_message_length", 400 << 20),
              ("grpc.max_send_message_length", 400 << 20)]


_WINDOW = 16  # Analyze calls in flight: hides round trips (1000 resources: 1.7s sequential, 0.8s)


class PolicyPackError(RuntimeError):
    """The pack did not start or failed while analysing; ``stderr`` holds what it printed."""

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(f"{message}\n--- policy pack stderr ---\n{stderr}" if stderr else message)
        self.stderr = stderr


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    enforcement_level: str  # effective, after config (what the CLI caches)
    declared_level: str  # what the pack says
    policy_type: str  # "resource" | "stack" | "unknown"
    config_schema: dict[str, Any]
    display_name: str = ""
    severity: str | None = None
    remediation_steps: str = ""
    url: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Diagnostic:
    policy_name: str
    policy_pack_name: str
    description: str
    message: str
    enforcement_level: str
    urn: str | None  # None: against the stack as a whole
    severity: str | None = None


@dataclass(frozen=True)
class SkippedCheck:
    """A (policy, resource) check without a verdict; ``enforcement_level`` is what it would have."""

    policy_name: str
    urn: str | None
    reason: str
    enforcement_level: str


@dataclass(frozen=True)
class LogRecord:
    severity: str  # debug/info/warning/error, else "stdout"/"stderr" for raw pack output
    message: str
    urn: str | None = None


@dataclass
class PackResult:
    pack_name: str
    pack_version: str
    plugin_version: str
    policies: list[PolicyInfo]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    undecided: list[SkippedCheck] = field(default_factory=list)
    not_applicable: list[SkippedCheck] = field(default_factory=list)
    logs: list[LogRecord] = field(default_factory=list)


def run_policy_pack(
    pack_dir: Path, resources: list[dict[str, Any]], policy_config: dict[str, Any] | None = None,
    *, python: str | None = None, timeout: float = 120, analyze_all_resources: bool = False,
) -> PackResult:
    """Start the pack, configure it, analyse ``resources`` (plan.json records), always stop it.

    ``python`` defaults to the pack's ``virtualenv`` runtime option, else this interpreter;
    ``timeout`` bounds start-up and each RPC. Raises PolicyPackError or PolicyConfigError.
    """
    pack_dir = Path(pack_dir).resolve()
    manifest, pack_python = _load_manifest(pack_dir)
    parts = (resources[0]["urn"] if resources else "urn:pulumi:offline::offline").split("::")
    run = _Run(pack_dir, manifest, resources, policy_config or {}, timeout, analyze_all_resources,
               parts[0].removeprefix("urn:pulumi:"), parts[1] if len(parts) > 1 else "offline")
    engine = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    engine_pb2_grpc.add_EngineServicer_to_server(_Engine(run.logs), engine)
    run.engine_address = f"127.0.0.1:{engine.add_insecure_port('127.0.0.1:0')}"
    engine.start()
    env = {**os.environ, "PULUMI_PROJECT": run.project, "PULUMI_STACK": run.stack,
           "PULUMI_DRY_RUN": "true"}
    cmd = [python or pack_python, "-u", "-m", "pulumi.policy", run.engine_address, "."]
    proc = subprocess.Popen(cmd, cwd=pack_dir, env=env, stdin=subprocess.DEVNULL, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr: list[str] = []
    port: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_drain, args=(proc.stdout, run.logs, port), daemon=True).start()
    err_reader = threading.Thread(target=_drain, args=(proc.stderr, run.logs, None, stderr),
                                  daemon=True)
    err_reader.start()

    def fail(message: str) -> PolicyPackError:
        proc.kill()  # first, so the error carries all of stderr (e.g. a policy's traceback)
        err_reader.join(5)
        return PolicyPackError(message, "".join(stderr))

    channel = None
    try:
        try:
            channel = grpc.insecure_channel(f"127.0.0.1:{int(port.get(timeout=timeout) or '')}",
                                            options=_GRPC_OPTS)
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except (queue.Empty, ValueError, grpc.FutureTimeoutError) as exc:
            raise fail(f"policy pack {pack_dir} failed to start ({exc!r})") from exc
        try:
            return _session(analyzer_pb2_grpc.AnalyzerStub(channel), run)
        except grpc.RpcError as exc:
            raise fail(f"policy pack {pack_dir} failed: {exc.code()}: {exc.details()}") from exc
    finally:
        if channel is not None:
            channel.close()
        proc.terminate()  # a serving pack sleeps until killed, as the CLI does on close
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        engine.stop(None)


@dataclass
class _Run:
    pack_dir: Path
    manifest: dict[str, Any]
    records: list[dict[str, Any]]
    policy_config: dict[str, Any]
    timeout: float
    analyze_all: bool
    stack: str
    project: str
    engine_address: str = ""
    logs: list[LogRecord] = field(default_factory=list)


def _session(stub: analyzer_pb2_grpc.AnalyzerStub, run: _Run) -> PackResult:
    timeout, records, pack_dir = run.timeout, run.records, str(run.pack_dir)
    try:
        stub.Handshake(pb.AnalyzerHandshakeRequest(engine_address=run.engine_address,
                                                   root_directory=pack_dir,
                                                   program_directory=pack_dir), timeout=timeout)
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise
    stub.ConfigureStack(pb.AnalyzerStackConfigureRequest(stack=run.stack, project=run.project,
                                                         dry_run=True), timeout=timeout)
    info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=timeout)
    levels = {p.name: LEVELS[p.enforcementLevel] for p in info.policies}
    if info.supportsConfig:
        given = parse_config(run.policy_config)
        run.logs.extend(LogRecord("warning", f"policy config for unknown policy {k!r}")
                        for k in given if k not in levels and k != "all")  # CLI: silently kept
        initial = {k: (LEVELS[v.enforcementLevel], json_format.MessageToDict(v.properties))
                   for k, v in info.initialConfig.items()}
        config = reconcile(info.policies, initial, given)
        stub.Configure(pb.ConfigureAnalyzerRequest(policyConfig={
            name: pb.PolicyConfig(enforcementLevel=level_enum(name, level),
                                  properties=json_format.ParseDict(props, struct_pb2.Struct()))
            for name, (level, props) in config.items()}), timeout=timeout)
        levels.update({k: level for k, (level, _) in config.items() if k in levels})
    elif run.policy_config:
        raise PolicyConfigError(f"policy pack {info.name} at {pack_dir} does not support config")
    plugin = stub.GetPluginInfo(empty_pb2.Empty(), timeout=timeout)
    result = PackResult(info.name, str(run.manifest.get("version") or info.version),
                        plugin.version, [_policy_info(p, levels) for p in info.policies],
                        logs=run.logs)
    secrets: dict[str, set[str]] = {r["urn"]: set() for r in records}
    wire = {r["urn"]: json_format.ParseDict(to_wire(r.get("inputs") or {}, "", secrets[r["urn"]]),
                                            struct_pb2.Struct()) for r in records}
    by_urn = {r["urn"]: r for r in records}

    def collect(resp: Any, urn: str | None) -> None:
        _collect(resp, urn, by_urn, result, levels, secrets)

    pending: collections.deque[tuple[str, Any]] = collections.deque()
    for r in records:
        if run.analyze_all or (r.get("custom") and not r["type"].startswith("pulumi:providers:")):
            req = pb.AnalyzeRequest(type=r["type"], urn=r["urn"], name=r["urn"].split("::")[-1],
                                    properties=wire[r["urn"]], options=resource_options(r),
                                    provider=provider_record(r, by_urn, wire))
            pending.append((r["urn"], stub.Analyze.future(req, timeout=timeout)))
        while len(pending) >= _WINDOW:
            urn, answer = pending.popleft()
            collect(answer.result(), urn)
    for urn, answer in pending:
        collect(answer.result(), urn)
    stack = [pb.AnalyzerResource(
        type=r["type"], urn=r["urn"], name=r["urn"].split("::")[-1], properties=wire[r["urn"]],
        options=resource_options(r), provider=provider_record(r, by_urn, wire), parent=r.get("parent") or "",
        dependencies=r.get("dependencies") or [],
        propertyDependencies={k: pb.AnalyzerPropertyDependencies(urns=v)
                              for k, v in (r.get("propertyDependencies") or {}).items() if v},
    ) for r in records]
    collect(stub.AnalyzeStack(pb.AnalyzeStackRequest(resources=stack), timeout=timeout), None)
    return result


def _collect(resp: Any, urn: str | None, by_urn: dict[str, Any], result: PackResult,
             levels: dict[str, str], secrets: dict[str, set[str]]) -> None:
    for d in resp.diagnostics:
        # Analyze: the CLI pins diagnostics to the analysed resource. AnalyzeStack: d.urn if it
        # names a resource of the stack, else the stack itself.
        target = urn if urn is not None else (d.urn if d.urn in by_urn else None)
        level = levels.get(d.policyName, "")
        level = "mandatory" if level == "remediate" else level
        unknown = (f"can't run policy '{d.policyName}' from policy pack "
                   f"'{d.policyPackName}@v{d.policyPackVersion}' during preview: ")
        if d.enforcementLevel == pb.ADVISORY and d.message.startswith(unknown):
            reason = d.message.removeprefix(unknown)
            path = reason.partition(" value at ")[2].partition(" can't be known")[0]
            if path in secrets.get(target or "", ()):
                reason += " (a secret: plan.json holds no plaintext)"
            result.undecided.append(SkippedCheck(d.policyName, target, reason, level))
            continue
        sent = LEVELS[d.enforcementLevel]
        severity = _SEVERITY.get(d.severity) or next(  # the CLI falls back to the policy's
            (p.severity for p in result.policies if p.name == d.policyName), None)
        result.diagnostics.append(Diagnostic(
            d.policyName, d.policyPackName, d.description, d.message,
            "mandatory" if sent == "remediate" else sent, target, severity))
    result.not_applicable.extend(SkippedCheck(n.policy_name, urn, n.reason, levels.get(
        n.policy_name, "")) for n in resp.not_applicable)


def _policy_info(p: Any, levels: dict[str, str]) -> PolicyInfo:
    schema = {"properties": json_format.MessageToDict(p.configSchema.properties),
              "required": list(p.configSchema.required)}
    kind = {pb.POLICY_TYPE_RESOURCE: "resource", pb.POLICY_TYPE_STACK: "stack"}
    return PolicyInfo(p.name, p.description, levels[p.name], LEVELS[p.enforcementLevel],
                      kind.get(p.policy_type, "unknown"), schema, p.displayName,
                      _SEVERITY.get(p.severity), p.remediation_steps, p.url, tuple(p.tags))


def _load_manifest(pack_dir: Path) -> tuple[dict[str, Any], str]:
    """PulumiPolicy.yaml (the CLI refuses a pack without it) and the interpreter it asks for."""
    try:
        manifest = yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyPackError(f"failed to load Pulumi policy project at {pack_dir}: {exc}") from exc
    runtime = manifest.get("runtime")
    if not isinstance(runtime, dict):
        runtime = {"name": runtime}
    if runtime.get("name") != "python":
        raise PolicyPackError(f"{pack_dir}: only python policy packs are supported: {runtime}")
    venv = (runtime.get("options") or {}).get("virtualenv")
    return manifest, str(pack_dir / venv / "bin" / "python") if venv else sys.executable


def _drain(stream: Any, logs: list[LogRecord], port: queue.Queue[str | None] | None,
           raw: list[str] | None = None) -> None:
    # Both pipes are read to the end, or a chatty policy would block on a full pipe.
    for n, line in enumerate(stream):
        if port is not None and n == 0:
            port.put(line.strip())
            continue
        if raw is not None:
            raw.append(line)
        line = line.rstrip("\n")
        severity, sep, message = line.partition(": ")  # pulumi.log without an engine
        if sep and severity in ("debug", "info", "warning", "error"):
            logs.append(LogRecord(severity, message))
        else:
            logs.append(LogRecord("stderr" if port is None else "stdout", line))
    if port is not None:
        port.put(None)  # exited before printing a port


class _Engine(engine_pb2_grpc.EngineServicer):
    def __init__(self, logs: list[LogRecord]) -> None:
        self._logs = logs

    def Log(self, request: Any, context: Any) -> empty_pb2.Empty:
        severity = ("debug", "info", "warning", "error")[request.severity]
        self._logs.append(LogRecord(severity, request.message, request.urn or None))
        return empty_pb2.Empty()
