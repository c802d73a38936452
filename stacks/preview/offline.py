"""Run the real Pulumi program under the SDK's mock runtime and capture what the engine gets.

The capture hooks the SDK's own `MockMonitor.RegisterResource`, so every record
is the `RegisterResourceRequest` the program would send to a real engine: type
token, name, parent, provider reference, options, and inputs in wire form
(camelCase names, secrets wrapped, unknowns as the unknown sentinel). Like a
real preview, resources to be created get no id and only their inputs as
outputs, so computed outputs (ARNs, ids) stay unknown.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from pulumi.runtime import mocks, settings, stack
from pulumi.runtime.config import set_all_config

#: Wire sentinels, as in the Pulumi SDK's rpc module.
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
SIG_KEY = "4dabf18193072939515e22adb298388d"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

STACK_TYPE = "pulumi:pulumi:Stack"


class OfflineInvokeError(Exception):
    """The program asked a provider a question that only a real cloud can answer."""


@dataclass
class Captured:
    """One resource registration, as the engine would receive it."""

    urn: str
    type: str
    name: str
    parent: str | None
    provider: str | None
    protect: bool
    custom: bool
    inputs: dict[str, Any]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    options: dict[str, Any]


@dataclass
class Capture:
    project: str
    stack: str
    resources: list[Captured] = field(default_factory=list)
    #: Warnings and errors the program logged to the engine (e.g. deprecated inputs).
    diagnostics: list[str] = field(default_factory=list)
    #: The stack outputs (`pulumi.export`), in wire form like the inputs.
    outputs: dict[str, Any] = field(default_factory=dict)


class _EngineLog(logging.Handler):
    def __init__(self, capture: Capture):
        super().__init__(level=logging.WARNING)
        self._capture = capture

    def emit(self, record: logging.LogRecord) -> None:
        self._capture.diagnostics.append(f"{record.levelname.lower()}: {record.getMessage()}")


class PreviewMocks(mocks.Mocks):
    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict]:
        # A real preview knows a new resource's inputs, not its id or computed outputs.
        # Only scalar inputs are echoed: structured outputs can differ in shape from
        # their inputs (azure-native identities: list in, map out), so they stay unknown.
        return "", {k: v for k, v in args.inputs.items() if not isinstance(v, (dict, list))}

    def call(self, args: mocks.MockCallArgs) -> tuple[dict, list | None]:
        raise OfflineInvokeError(
            f"the program calls {args.token}, which needs a live cloud; components must not "
            "depend on data sources so that previews work without credentials"
        )


def _int_floats(value: Any) -> Any:
    # google.protobuf.Struct carries every number as a double.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _int_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_int_floats(v) for v in value]
    return value


def _provider_urn(ref: str) -> str | None:
    # A provider reference is `<urn>::<id>`; the id is unknown at preview time.
    return ref.rsplit("::", 1)[0] if ref else None


class _CapturingMonitor(mocks.MockMonitor):
    def __init__(self, capture: Capture, on_register: Callable[[Captured], None] | None,
                 resource_mocks: mocks.Mocks | None = None):
        super().__init__(resource_mocks or PreviewMocks())
        self._capture = capture
        self._on_register = on_register
        #: Former URNs of each registered resource that has any (see `alias_urns`).
        self._aliases: dict[str, list[str]] = {}

    def make_urn(self, parent: str, type_: str, name: str, stack_name: str = "",
                 project: str = "") -> str:
        # As the engine does: children of the root stack are not qualified by it, and
        # deeper children carry their parent's whole qualified type.
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != STACK_TYPE:
                type_ = f"{parent_type}${type_}"
        return (f"urn:pulumi:{stack_name or settings.get_stack()}::"
                f"{project or settings.get_project()}::{type_}::{name}")

    def alias_urns(self, request: Any) -> list[str]:
        """The former URNs of a resource, resolved as the engine resolves `aliases`: each alias
        (a URN, or a spec whose unset fields default to the resource's own), and the resource
        under every former URN of its parent, which children inherit."""
        out = list(request.aliasURNs)
        own_parents = [request.parent, *self._aliases.get(request.parent, [])]
        for alias in request.aliases:
            if alias.urn:
                out.append(alias.urn)
                continue
            spec = alias.spec
            if _provider_type_alias(spec):
                continue
            if spec.noParent:
                parents = [""]
            elif spec.parentUrn:
                parents = [spec.parentUrn]
            else:
                parents = own_parents
            for parent in parents:
                out.append(self.make_urn(parent, spec.type or request.type,
                                         spec.name or request.name, spec.stack, spec.project))
        for parent in own_parents[1:]:
            out.append(self.make_urn(parent, request.type, request.name))
        return list(dict.fromkeys(out))

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        urn = self.make_urn(request.parent, request.type, request.name)
        aliases = self.alias_urns(request)
        if aliases:
            self._aliases[urn] = aliases
        record = Captured(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            provider=_provider_urn(request.provider),
            protect=bool(request.protect),
            custom=bool(request.custom),
            inputs=_int_floats(json_format.MessageToDict(request.object)),
            dependencies=list(request.dependencies),
            property_dependencies={
                k: list(v.urns) for k, v in request.propertyDependencies.items()
            },
            options=_options(request, aliases),
        )
        self._capture.resources.append(record)
        if self._on_register is not None:
            self._on_register(record)
        return response


    def RegisterResourceOutputs(self, request):  # noqa: N802 - gRPC method name
        # The stack's exports arrive here once the program has finished, as the engine
        # receives them: secrets wrapped, values unknown at preview as the unknown sentinel.
        if request.urn.split("::")[2] == STACK_TYPE:
            self._capture.outputs = _int_floats(json_format.MessageToDict(request.outputs))
        return super().RegisterResourceOutputs(request)


def _provider_type_alias(spec: Any) -> bool:
    """A provider SDK's own alias: its resource under another type token of that provider
    (older API versions, renamed types; azure-native and Kubernetes resources carry dozens).
    They are not the program's renames, and left in they would fill plan.json with thousands of
    URNs no plan ever had. Dropping them is the cautious side: were the program ever to move a
    resource to another provider type, the plan diff shows a delete and an add."""
    only_type = spec.type and not (spec.name or spec.stack or spec.project or spec.parentUrn
                                   or spec.noParent)
    return bool(only_type) and not spec.type.startswith("hybridml:")


def _options(request: Any, aliases: list[str]) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if request.deleteBeforeReplace:
        opts["deleteBeforeReplace"] = True
    if request.retainOnDelete:
        opts["retainOnDelete"] = True
    for name in ("ignoreChanges", "replaceOnChanges", "additionalSecretOutputs"):
        values = list(getattr(request, name))
        if values:
            opts[name] = values
    if aliases:
        opts["aliasURNs"] = aliases
    if request.providers:
        opts["providers"] = {k: _provider_urn(v) for k, v in request.providers.items()}
    if request.deletedWith:
        opts["deletedWith"] = request.deletedWith
    if request.importId:
        opts["import"] = request.importId
    if request.version:
        opts["version"] = request.version
    timeouts = request.customTimeouts
    if timeouts.create or timeouts.update or timeouts.delete:
        opts["customTimeouts"] = {
            k: v for k, v in (("create", timeouts.create), ("update", timeouts.update),
                              ("delete", timeouts.delete)) if v
        }
    return opts


async def _wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
    """The SDK's `pulumi.runtime.stack.wait_for_rpcs`, waiting for the pending outputs once per
    round. The SDK waits for the *first* pending output again and again, and every wait hangs a
    callback on every pending task: quadratic in the outputs of a large program (half a million
    callbacks for the prod stack). Here each round waits for all of them, or for the first that
    fails, so errors surface as early as in the SDK; RPC failures are re-raised the same way.
    """
    rpc_manager = settings._get_rpc_manager()
    while True:
        while rpc_manager.rpcs:
            await asyncio.sleep(0)
            try:
                await rpc_manager.rpcs.pop()
            except Exception as exn:
                if rpc_manager.unhandled_exception is not None:
                    raise exn from rpc_manager.unhandled_exception.with_traceback(
                        rpc_manager.exception_traceback)
                raise
        if rpc_manager.unhandled_exception is not None:
            raise rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
        while await_all_outstanding_tasks:
            with settings.SETTINGS.lock:
                pending = list(settings.SETTINGS.outputs)
                settings.SETTINGS.outputs.clear()
            if not pending:
                break
            done, not_done = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                await task
            with settings.SETTINGS.lock:
                settings.SETTINGS.outputs.update(not_done)
        if not rpc_manager.rpcs:
            break


def run_program(
    program: Callable[[], None],
    project: str,
    stack_name: str,
    config: dict[str, Any],
    secret_values: dict[str, str],
    on_register: Callable[[Captured], None] | None = None,
    resource_mocks: mocks.Mocks | None = None,
) -> Capture:
    """Run `program` as `pulumi preview` would, with `config` and `secret_values` set.

    `config` maps namespaced keys to values (objects are passed as JSON, as the
    CLI does); `secret_values` are set as secret config keys. `resource_mocks`
    replaces the preview's stand-in for the engine (tests use it to make
    generated values known, e.g. to trace where a key flows).
    """
    capture = Capture(project=project, stack=stack_name)
    monitor = _CapturingMonitor(capture, on_register, resource_mocks)
    runtime_config = {
        k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()
    }
    runtime_config.update(secret_values)
    logger = logging.getLogger(f"hybrid-ml.engine.{stack_name}")
    logger.propagate = False
    logger.handlers[:] = [_EngineLog(capture)]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        settings.configure(mocks.MockSettings(
            monitor=monitor,
            monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
            engine=mocks.MockEngine(logger),
            project=project,
            stack=stack_name,
            dry_run=True,
            organization="organization",
            callbacks=None,
        ))
        settings.ROOT.set(None)
        set_all_config(runtime_config, secret_keys=sorted(secret_values))
        # The SDK's run loop calls its module's wait_for_rpcs; the offline engine brings its own.
        sdk_wait, stack.wait_for_rpcs = stack.wait_for_rpcs, _wait_for_rpcs
        try:
            loop.run_until_complete(stack.run_in_stack(program))
        finally:
            stack.wait_for_rpcs = sdk_wait
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return capture


def default_provider_violations(capture: Capture, disabled: list[str]) -> list[str]:
    """Resources the engine would refuse because they need a disabled default provider."""
    out = []
    for r in capture.resources:
        if not r.custom or r.provider is not None or r.type.startswith("pulumi:providers:"):
            continue
        package = r.type.split(":", 1)[0]
        if "*" in disabled or package in disabled:
            out.append(f"{r.urn}: has no explicit provider and the default {package} provider is disabled")
    return out


__all__ = [
    "Capture", "Captured", "OfflineInvokeError", "PreviewMocks", "run_program", "default_provider_violations",
    "SECRET_SIG", "SIG_KEY", "UNKNOWN", "RESOURCE_SIG",
]
