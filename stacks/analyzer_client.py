"""Run a CrossGuard policy pack offline, speaking the Pulumi CLI's Analyzer gRPC protocol to it.

What the CLI does, and what we copy (read from pulumi 3.272 / pulumi_policy 1.21 and the CLI's Go sources:
sdk/go/common/resource/plugin/analyzer_plugin.go, pkg/resource/analyzer/config.go, pkg/engine/plugins.go,
pkg/resource/deploy/step_generator.go):

* Launch: the ``pulumi-analyzer-policy-python`` shim runs ``python -u -m pulumi.policy ENGINE_ADDRESS .`` with the
  pack directory as cwd; ``pulumi/policy/__main__.py`` does ``runpy.run_path(".")``, i.e. the pack's ``__main__.py``
  with the pack directory first on ``sys.path``. Constructing ``PolicyPack`` starts a gRPC server on 127.0.0.1:0 and
  writes the port as the first stdout line. Env: PULUMI_PROJECT/PULUMI_STACK/PULUMI_DRY_RUN (and PULUMI_CONFIG).
* Engine: the address is parsed but never used by pulumi_policy 1.21; ``pulumi.log`` in a policy falls back to
  stderr. We still serve a minimal Engine (Log only) so the address is real, and keep stderr/stdout lines as logs.
* Handshake: the CLI calls ``Handshake(engine_address, root_directory, program_directory)`` and tolerates
  UNIMPLEMENTED; pulumi_policy 1.21 does not implement it. Then ConfigureStack, GetAnalyzerInfo, Configure.
* Configure: the config file ({"p": "disabled"} / {"p": {"enforcementLevel": ..., **props}}, "all" = every
  policy) is parsed, laid over schema defaults and the pack's initialConfig, validated against each policy's
  configSchema (JSON Schema; we check the common keywords only) and sent for *every* policy. Quirk copied as-is:
  PolicyConfig.enforcementLevel has no presence, so initialConfig without a level reaches the CLI as "advisory".
* Analyze: the CLI calls Analyze for *every* registered resource (providers, components, the stack too) with its
  inputs; diagnostics are attributed to the analysed URN. ``analyze_all_resources=False`` (default, per our brief)
  sends custom non-provider resources only. AnalyzeStack gets every resource, parents and dependencies included.
  Remediate runs before Analyze (only useful when a policy is at "remediate"; we skip the calls otherwise).
* Unknowns: pulumi_policy wraps inputs in a proxy that raises UnknownValueError when a policy reads an unknown;
  it then *replaces the verdict with an ADVISORY diagnostic* "can't run policy '<p>' from policy pack '<pack>@v<v>'
  during preview: ...", whatever the policy's level. We recognise exactly that message and move it to
  ``PackResult.undecided`` with the policy's real level, so a mandatory check never reads as advisory.
* Secrets: "[secret]" becomes the wire secret wrapping the unknown sentinel, because plan.json has no plaintext;
  any policy that reads it (even ``"k" in props``: Mapping.__contains__ reads the value) is undecided, not passed.
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
from pulumi.runtime.proto import analyzer_pb2 as pb, analyzer_pb2_grpc, engine_pb2_grpc

SECRET_KEY, SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # Go's UnknownStringValue, what MarshalProperties keeps
LEVELS = {pb.ADVISORY: "advisory", pb.MANDATORY: "mandatory", pb.REMEDIATE: "remediate", pb.DISABLED: "disabled"}
_SEVERITIES = {pb.POLICY_SEVERITY_LOW: "low", pb.POLICY_SEVERITY_MEDIUM: "medium", pb.POLICY_SEVERITY_HIGH: "high",
               pb.POLICY_SEVERITY_CRITICAL: "critical"}
_GRPC_OPTS = [("grpc.max_receive_message_length", 400 << 20), ("grpc.max_send_message_length", 400 << 20)]
_WINDOW = 16  # Analyze calls in flight; the pack serves 4 threads, this just hides round-trip latency


class PolicyPackError(RuntimeError):
    """The pack could not start, or failed while analysing; ``stderr`` holds what it printed."""

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(f"{message}\n--- policy pack stderr ---\n{stderr}" if stderr else message)
        self.stderr = stderr


class PolicyConfigError(ValueError):
    """The policy config is invalid (the CLI fails with "validating policy config")."""


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    enforcement_level: str  # effective level after config, as the CLI caches it
    declared_level: str
    policy_type: str  # "resource" | "stack" | "unknown"
    config_schema: dict[str, Any]
    display_name: str = ""
    severity: str | None = None
    remediation_steps: str = ""
    url: str = ""
    tags: tuple[str, ...] = ()
    framework: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Diagnostic:
    policy_name: str
    policy_pack_name: str
    description: str
    message: str
    enforcement_level: str
    urn: str | None  # None: reported against the stack as a whole
    severity: str | None = None


@dataclass(frozen=True)
class SkippedCheck:
    """A (policy, resource) check that produced no verdict; ``enforcement_level`` is what it would have had."""

    policy_name: str
    urn: str | None
    reason: str
    enforcement_level: str


@dataclass(frozen=True)
class LogRecord:
    severity: str  # debug/info/warning/error from the Engine service or a stderr prefix; else "stderr"/"stdout"
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
    remediated: list[tuple[str, str]] = field(default_factory=list)  # (policy_name, urn)
    logs: list[LogRecord] = field(default_factory=list)


def run_policy_pack(pack_dir: Path, resources: list[dict[str, Any]], policy_config: dict[str, Any] | None = None,
                    *, python: str | None = None, timeout: float = 120, analyze_all_resources: bool = False
                    ) -> PackResult:
    """Start the pack, configure it, analyse ``resources`` (plan.json records) and stop it again.

    ``python`` defaults to the pack's ``virtualenv`` runtime option, else this interpreter. ``timeout`` bounds
    start-up and each RPC. Raises PolicyPackError (start-up/RPC failure) or PolicyConfigError.
    """
    pack_dir = Path(pack_dir).resolve()
    manifest = _load_manifest(pack_dir)
    parts = (resources[0]["urn"] if resources else "urn:pulumi:offline::offline").split("::")
    run = _Run(pack_dir, manifest, resources, policy_config or {}, timeout, analyze_all_resources,
               parts[0].removeprefix("urn:pulumi:"), parts[1] if len(parts) > 1 else "offline")
    env = {**os.environ, "PULUMI_DRY_RUN": "true", "PULUMI_STACK": run.stack, "PULUMI_PROJECT": run.project}
    engine = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    engine_pb2_grpc.add_EngineServicer_to_server(_Engine(run.logs), engine)
    run.engine_address = f"127.0.0.1:{engine.add_insecure_port('127.0.0.1:0')}"
    engine.start()
    cmd = [python or _python_for(pack_dir, manifest), "-u", "-m", "pulumi.policy", run.engine_address, "."]
    proc = subprocess.Popen(cmd, cwd=pack_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    stderr: list[str] = []
    port_q: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_drain, args=(proc.stdout, run.logs, port_q), daemon=True).start()
    err_thread = threading.Thread(target=_drain, args=(proc.stderr, run.logs, None, stderr), daemon=True)
    err_thread.start()

    def fail(message: str) -> PolicyPackError:
        proc.kill()  # stop it first so its stderr (e.g. a policy's traceback) is complete in the error
        err_thread.join(5)
        return PolicyPackError(message, "".join(stderr))

    channel = None
    try:
        try:
            port = int(port_q.get(timeout=timeout) or "")
            channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_GRPC_OPTS)
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
        proc.terminate()  # the pack sleeps forever once serving; the CLI kills it the same way
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
    timeout, records = run.timeout, run.records
    try:  # newer CLIs call Handshake first and accept UNIMPLEMENTED (pulumi_policy 1.21 answers that)
        stub.Handshake(pb.AnalyzerHandshakeRequest(engine_address=run.engine_address, root_directory=str(
            run.pack_dir), program_directory=str(run.pack_dir)), timeout=timeout)
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise
    stub.ConfigureStack(pb.AnalyzerStackConfigureRequest(stack=run.stack, project=run.project, dry_run=True),
                        timeout=timeout)
    info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=timeout)
    declared = {p.name: LEVELS[p.enforcementLevel] for p in info.policies}
    schemas = {p.name: {"type": "object", "properties": json_format.MessageToDict(p.configSchema.properties),
                        **({"required": list(p.configSchema.required)} if p.configSchema.required else {})}
               for p in info.policies}
    levels = dict(declared)
    if info.supportsConfig:
        initial = {k: (LEVELS[v.enforcementLevel], json_format.MessageToDict(v.properties))
                   for k, v in info.initialConfig.items()}
        given = _parse_config(run.policy_config)
        run.logs.extend(LogRecord("warning", f"policy config for {k!r}: the pack has no such policy")
                        for k in given if k not in declared and k != "all")  # the CLI passes these on silently
        config = _reconcile(schemas, declared, initial, given)
        levels.update({k: lvl for k, (lvl, _) in config.items() if k in declared})
        stub.Configure(pb.ConfigureAnalyzerRequest(policyConfig={
            k: pb.PolicyConfig(enforcementLevel=_level_enum(k, lvl), properties=_struct(props or {}))
            for k, (lvl, props) in config.items()}), timeout=timeout)
    elif run.policy_config:
        raise PolicyConfigError(f"policy pack {info.name} at {run.pack_dir} does not support config")
    result = PackResult(info.name, str(run.manifest.get("version") or info.version),
                        stub.GetPluginInfo(empty_pb2.Empty(), timeout=timeout).version,
                        [_policy_info(p, levels[p.name]) for p in info.policies], logs=run.logs)
    severity = {p.name: p.severity for p in result.policies}
    by_urn = {r["urn"]: r for r in records}
    secrets: dict[str, set[str]] = {}
    wire = {r["urn"]: _struct(_to_wire(r.get("inputs") or {}, "", secrets.setdefault(r["urn"], set())))
            for r in records}
    remediating = any(lvl == "remediate" for lvl in levels.values())
    pending: collections.deque[tuple[str, Any]] = collections.deque()
    for rec in records:
        if not run.analyze_all and (not rec.get("custom") or rec["type"].startswith("pulumi:providers:")):
            continue
        req = pb.AnalyzeRequest(type=rec["type"], urn=rec["urn"], name=rec["urn"].split("::")[-1],
                                properties=wire[rec["urn"]], options=_options(rec),
                                provider=_provider(rec, by_urn, wire))
        if remediating:
            _remediate(stub.Remediate(req, timeout=timeout), req, result, levels)
        pending.append((rec["urn"], stub.Analyze.future(req, timeout=timeout)))
        while len(pending) >= _WINDOW:
            urn, fut = pending.popleft()
            _collect(fut.result(), urn, None, result, levels, severity, secrets)
    for urn, fut in pending:
        _collect(fut.result(), urn, None, result, levels, severity, secrets)
    stack_req = pb.AnalyzeStackRequest(resources=[pb.AnalyzerResource(
        type=r["type"], urn=r["urn"], name=r["urn"].split("::")[-1], properties=wire[r["urn"]],
        options=_options(r), provider=_provider(r, by_urn, wire), parent=r.get("parent") or "",
        dependencies=r.get("dependencies") or [],
        propertyDependencies={k: pb.AnalyzerPropertyDependencies(urns=v)
                              for k, v in (r.get("propertyDependencies") or {}).items() if v})
        for r in records])
    _collect(stub.AnalyzeStack(stack_req, timeout=timeout), None, set(by_urn), result, levels, severity, secrets)
    return result


def _collect(resp: Any, urn: str | None, stack_urns: set[str] | None, result: PackResult,
             levels: dict[str, str], severity: dict[str, str | None], secrets: dict[str, set[str]]) -> None:
    for d in resp.diagnostics:
        # Analyze diagnostics belong to the analysed resource (the CLI ignores d.urn there); stack ones keep d.urn
        # when it names a resource of the stack, else they are stack-wide.
        target = urn if stack_urns is None else (d.urn if d.urn in stack_urns else None)
        unknown = f"can't run policy '{d.policyName}' from policy pack '{d.policyPackName}@v{d.policyPackVersion}'" \
                  " during preview: "
        if d.enforcementLevel == pb.ADVISORY and d.message.startswith(unknown):
            reason = d.message.removeprefix(unknown)
            path = reason.partition(" value at ")[2].partition(" can't be known")[0]
            if target and path in secrets.get(target, ()):
                reason += " (a secret: plan.json holds no plaintext)"
            level = levels.get(d.policyName, "advisory")
            result.undecided.append(SkippedCheck(d.policyName, target, reason,
                                                 "mandatory" if level == "remediate" else level))
            continue
        level = LEVELS[d.enforcementLevel]
        result.diagnostics.append(Diagnostic(d.policyName, d.policyPackName, d.description, d.message,
                                             "mandatory" if level == "remediate" else level, target,
                                             _SEVERITIES.get(d.severity) or severity.get(d.policyName)))
    for na in resp.not_applicable:
        result.not_applicable.append(SkippedCheck(na.policy_name, urn, na.reason, levels.get(na.policy_name, "")))


def _remediate(resp: Any, req: Any, result: PackResult, levels: dict[str, str]) -> None:
    for r in resp.remediations:
        if r.diagnostic:  # the CLI shows this as an advisory warning; it means the remediation could not run
            result.undecided.append(SkippedCheck(r.policyName, req.urn, r.diagnostic, "remediate"))
        elif r.HasField("properties"):
            req.properties.CopyFrom(r.properties)  # later passes see the remediated inputs, as in the CLI
            result.remediated.append((r.policyName, req.urn))
    for na in resp.not_applicable:
        result.not_applicable.append(SkippedCheck(na.policy_name, req.urn, na.reason, levels.get(na.policy_name, "")))


# --- configuration (pkg/resource/analyzer/config.go) -------------------------------------------------------------

def _parse_config(raw: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    out = {}
    for name, val in raw.items():
        if isinstance(val, str):
            level, props = val, {}
        elif isinstance(val, dict):
            props = dict(val)
            level = props.pop("enforcementLevel", "")
            if not isinstance(level, str):
                raise PolicyConfigError(f'parsing enforcement level for "{name}": {level!r} must be a string')
        else:
            raise PolicyConfigError(f'parsing "{name}": {val!r} is not a valid value; must be a string or object')
        if level and level not in LEVELS.values():
            raise PolicyConfigError(f'parsing enforcement level for "{name}": "{level}" is not a valid level')
        if level or props:  # the CLI drops empty entries
            out[name] = (level, props)
    return out


def _reconcile(schemas: dict[str, dict[str, Any]], declared: dict[str, str],
               *layers: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, tuple[str, dict[str, Any]]]:
    result = {name: (declared[name], {k: s["default"] for k, s in schemas[name]["properties"].items()
                                      if isinstance(s, dict) and "default" in s}) for name in declared}
    for layer in layers:
        if layer.get("all", ("", {}))[0]:
            result = {k: (layer["all"][0], props) for k, (_, props) in result.items()}
        for name, (level, props) in layer.items():
            old_level, old_props = result.get(name, ("", {}))
            result[name] = (level or old_level, {**old_props, **props})
    errors = [f"{name}: {e}" for name in declared for e in _schema_errors(schemas[name], result[name][1], "")]
    if errors:
        raise PolicyConfigError("validating policy config:\n" + "\n".join(sorted(errors)))
    return result


def _schema_errors(schema: dict[str, Any], value: Any, where: str) -> list[str]:
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    want = schema.get("type")
    ok = want is None or any(
        (isinstance(v := value, (int, float)) and not isinstance(v, bool) and (t == "number" or float(v).is_integer()))
        if t in ("number", "integer") else isinstance(value, kinds.get(t, object))
        for t in (want if isinstance(want, list) else [want]))
    if not ok:
        return [f"{where or '(root)'}: Invalid type. Expected: {want}, given: {type(value).__name__}"]
    errs = [f"{where or '(root)'}: must be one of {schema['enum']}"] if "enum" in schema and value not in schema[
        "enum"] else []
    if isinstance(value, dict):
        errs += [f"{k} is required" for k in schema.get("required", []) if k not in value]
        errs += [e for k, s in schema.get("properties", {}).items() if k in value
                 for e in _schema_errors(s, value[k], f"{where}.{k}".lstrip("."))]
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        errs += [e for i, v in enumerate(value) for e in _schema_errors(schema["items"], v, f"{where}.{i}")]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < schema.get("minimum", value):
            errs.append(f"{where}: must be >= {schema['minimum']}")
        if value > schema.get("maximum", value):
            errs.append(f"{where}: must be <= {schema['maximum']}")
    return errs


def _level_enum(name: str, level: str) -> int:
    enum = {v: k for k, v in LEVELS.items()}.get(level)
    if enum is None:  # e.g. properties for a policy the pack does not have: the CLI's Configure refuses it too
        raise PolicyConfigError(f'invalid enforcement level "{level}" for "{name}"')
    return enum


# --- wire conversion ---------------------------------------------------------------------------------------------

def _to_wire(value: Any, path: str, secrets: set[str]) -> Any:
    if value == "[secret]":
        secrets.add(path)
        return {SECRET_KEY: SECRET_SIG, "value": UNKNOWN}
    if value == "[unknown]":
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _to_wire(v, f"{path}.{k}", secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_wire(v, f"{path}.{i}", secrets) for i, v in enumerate(value)]
    return value


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


def _options(rec: dict[str, Any]) -> pb.AnalyzerResourceOptions:
    opts = rec.get("options") or {}
    dbr, timeouts = opts.get("deleteBeforeReplace"), opts.get("customTimeouts") or {}
    return pb.AnalyzerResourceOptions(
        protect=bool(rec.get("protect")), ignoreChanges=opts.get("ignoreChanges") or [],
        deleteBeforeReplace=bool(dbr), deleteBeforeReplaceDefined=dbr is not None,
        additionalSecretOutputs=opts.get("additionalSecretOutputs") or [],
        aliases=[a for a in opts.get("aliases") or [] if isinstance(a, str)], parent=rec.get("parent") or "",
        customTimeouts=pb.AnalyzerResourceOptions.CustomTimeouts(
            **{k: float(timeouts[k]) for k in ("create", "update", "delete") if timeouts.get(k) is not None}))


def _provider(rec: dict[str, Any], by_urn: dict[str, dict[str, Any]],
              wire: dict[str, struct_pb2.Struct]) -> pb.AnalyzerProviderResource | None:
    ref = rec.get("provider") or ""
    prov = by_urn.get(ref) or by_urn.get(ref.rsplit("::", 1)[0])  # tolerate "urn::id" provider references
    if prov is None:
        return None
    return pb.AnalyzerProviderResource(type=prov["type"], urn=prov["urn"], name=prov["urn"].split("::")[-1],
                                       properties=wire[prov["urn"]])


def _policy_info(p: Any, level: str) -> PolicyInfo:
    fw = {k: getattr(p.framework, k) for k in ("name", "version", "reference", "specification")
          if getattr(p.framework, k)}
    return PolicyInfo(p.name, p.description, level, LEVELS[p.enforcementLevel],
                      {1: "resource", 2: "stack"}.get(p.policy_type, "unknown"),
                      {"properties": json_format.MessageToDict(p.configSchema.properties),
                       "required": list(p.configSchema.required)},
                      p.displayName, _SEVERITIES.get(p.severity), p.remediation_steps, p.url, tuple(p.tags), fw)


# --- process plumbing --------------------------------------------------------------------------------------------

def _load_manifest(pack_dir: Path) -> dict[str, Any]:
    path = pack_dir / "PulumiPolicy.yaml"
    try:
        manifest = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyPackError(f"failed to load Pulumi policy project located at {pack_dir}: {exc}") from exc
    runtime = manifest.get("runtime")
    if (runtime.get("name") if isinstance(runtime, dict) else runtime) != "python":
        raise PolicyPackError(f"{path}: only runtime 'python' packs are supported, got {runtime!r}")
    return manifest


def _python_for(pack_dir: Path, manifest: dict[str, Any]) -> str:
    runtime = manifest["runtime"]
    venv = (runtime.get("options") or {}).get("virtualenv") if isinstance(runtime, dict) else None
    return str(pack_dir / venv / "bin" / "python") if venv else sys.executable


def _drain(stream: Any, logs: list[LogRecord], port_q: queue.Queue[str | None] | None,
           raw: list[str] | None = None) -> None:
    # Both pipes must be read continuously or a chatty policy blocks on a full pipe.
    for n, line in enumerate(stream):
        if port_q is not None and n == 0:
            port_q.put(line.strip())
            continue
        if raw is not None:
            raw.append(line)
        sev, sep, msg = line.rstrip("\n").partition(": ")
        known = sep and sev in ("debug", "info", "warning", "error")
        logs.append(LogRecord(sev if known else ("stdout" if port_q is not None else "stderr"),
                              msg if known else line.rstrip("\n")))
    if port_q is not None:
        port_q.put(None)  # the pack exited before printing a port


class _Engine(engine_pb2_grpc.EngineServicer):
    def __init__(self, logs: list[LogRecord]) -> None:
        self._logs = logs

    def Log(self, request: Any, context: Any) -> empty_pb2.Empty:  # noqa: N802 (gRPC method name)
        self._logs.append(LogRecord(("debug", "info", "warning", "error")[request.severity], request.message,
                                    request.urn or None))
        return empty_pb2.Empty()
