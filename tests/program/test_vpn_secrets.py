"""VPN pre-shared keys: generated, used by every tunnel, and never in plaintext anywhere.

Offline, generated passwords are unknown (as in a real preview), which would make
a leak check vacuous. So these tests make the engine stand-in return a known
canary for every RandomPassword and follow it through the wire, the plan, the
stack outputs, the rendered device config and the CLI's output.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.preview.offline import SECRET_SIG, SIG_KEY
from stacks.preview.plan_file import write_plan
from stacks.render.onprem import render_onprem
from tests.conftest import CANARY

VPN_TYPES = {
    "aws:ec2/vpnConnection:VpnConnection": ("tunnel1PresharedKey", "tunnel2PresharedKey"),
    "gcp:compute/vPNTunnel:VPNTunnel": ("sharedSecret",),
    "azure-native:network:VirtualNetworkGatewayConnection": ("sharedKey",),
}


def _plain_leaks(value: Any, path: str = "") -> list[str]:
    """Paths where the canary appears outside a secret-wrapped value."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return []
        return [p for k, v in value.items() for p in _plain_leaks(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _plain_leaks(v, f"{path}[{i}]")]
    return [path] if isinstance(value, str) and CANARY in value else []


def _secret_values(value: Any) -> list[Any]:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return [value.get("value")]
        return [s for v in value.values() for s in _secret_values(v)]
    if isinstance(value, list):
        return [s for v in value for s in _secret_values(v)]
    return []


@pytest.fixture(scope="module")
def canary_preview(prod_canary_preview):
    return prod_canary_preview


def test_every_tunnel_gets_its_own_generated_key_as_a_secret(canary_preview):
    keys = []
    for r in canary_preview.capture.resources:
        for field in VPN_TYPES.get(r.type, ()):
            value = r.inputs.get(field)
            assert isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG, (r.urn, field)
            assert CANARY in value["value"], (r.urn, field)
            keys.append(value["value"])
    # AWS: 2 regions x 2 connections x 2 tunnels; GCP: 2 tunnels; Azure: 2 connections.
    assert len(keys) == 8 + 2 + 2
    assert len(set(keys)) == len(keys)
    passwords = [r for r in canary_preview.capture.resources
                 if r.type == "random:index/randomPassword:RandomPassword"]
    assert passwords and all(r.inputs["length"] >= 32 for r in passwords)


def test_keys_never_leave_secret_wrappers(canary_preview):
    leaks = [f"{r.urn}{p}" for r in canary_preview.capture.resources for p in _plain_leaks(r.inputs)]
    leaks += [f"outputs{p}" for p in _plain_leaks(canary_preview.capture.outputs)]
    assert leaks == []
    exported = _secret_values(canary_preview.capture.outputs.get("vpnPreSharedKeys"))
    assert exported and CANARY in json.dumps(exported)  # exported, but only as a secret


def test_no_key_in_plan_outputs_or_device_config(canary_preview, tmp_path):
    text = write_plan(canary_preview.plan, tmp_path).read_text()
    assert CANARY not in text
    assert canary_preview.plan["outputs"]["vpnPreSharedKeys"] == "[secret]"
    files = render_onprem(canary_preview.plan["outputs"]["onpremVpn"], "prod")
    assert not any(CANARY in body for body in files.values())
