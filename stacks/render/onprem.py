"""Render the on-prem VPN devices' configuration from the `onpremVpn` stack output.

One directory per device: strongSwan `swanctl.conf` (route-based IKEv2 tunnels
on XFRM interfaces), `xfrm-interfaces.sh` (the tunnel interfaces and their
inside addresses) and FRR `frr.conf` (the BGP neighbours). The pre-shared keys
are never written here: `swanctl.conf` includes `secrets.d/*.conf`, which
`install-secrets.sh` fills on the device from the secret stack output.

The input is the same whether it comes from the offline preview's plan (cloud
addresses still unknown) or from `pulumi stack output --json` after
`pulumi up` (every value known), so preview and real deployments render alike.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from stacks.preview.plan_file import SECRET_TEXT, UNKNOWN_TEXT

#: Written where a value is only known once the cloud side exists.
PENDING = "<known-after-pulumi-up>"
#: Offset of XFRM interface ids, so ours do not collide with ids the device already uses.
IF_ID_BASE = 100


class OnPremConfigError(ValueError):
    """The stack output does not describe on-prem tunnels."""


def _value(v: Any) -> str:
    if v in (UNKNOWN_TEXT, None):
        return PENDING
    if v == SECRET_TEXT:
        raise OnPremConfigError("a non-secret tunnel field is a secret; refusing to render it")
    return str(v)


def _if_id(tunnel: dict[str, Any]) -> int:
    # Fixed by the tunnel's /30 in the link-local pool, so adding a region or a device
    # never moves an existing tunnel to another interface.
    inside = ipaddress.ip_network(tunnel["insideCidr"])
    return IF_ID_BASE + (int(inside.network_address) & 0xFFFF) // 4


def _rekey(lifetime: int) -> int:
    # Rekey before the cloud end's lifetime runs out, so the cloud never has to.
    return lifetime * 9 // 10


def _swanctl(device: str, public_ip: str, tunnels: list[dict[str, Any]]) -> str:
    lines = [
        f"# strongSwan swanctl.conf for on-prem VPN device {device}, rendered by hybrid-ml.",
        "# Route-based: each tunnel is an XFRM interface (see xfrm-interfaces.sh); BGP runs in FRR.",
        "# Pre-shared keys are not in this file: they are included from secrets.d/, written by",
        "# install-secrets.sh from the secret stack output.",
        "connections {",
    ]
    for t in tunnels:
        remote = _value(t["cloudAddress"])
        lines += [
            f"    {t['name']} {{",
            f"        version = {t['ikeVersion']}",
            f"        local_addrs = {public_ip}",
            f"        remote_addrs = {remote}",
            f"        proposals = {t['ikeProposal']}",
            f"        rekey_time = {_rekey(t['ikeLifetime'])}s",
            "        dpd_delay = 10s",
            "        mobike = no",
            f"        if_id_in = {t['ifId']}",
            f"        if_id_out = {t['ifId']}",
            "        local {",
            "            auth = psk",
            f"            id = {public_ip}",
            "        }",
            "        remote {",
            "            auth = psk",
            f"            id = {remote}",
            "        }",
            "        children {",
            f"            {t['name']} {{",
            "                local_ts = 0.0.0.0/0",
            "                remote_ts = 0.0.0.0/0",
            f"                esp_proposals = {t['espProposal']}",
            f"                rekey_time = {_rekey(t['childLifetime'])}s",
            f"                if_id_in = {t['ifId']}",
            f"                if_id_out = {t['ifId']}",
            "                start_action = start",
            "                dpd_action = restart",
            "                close_action = start",
            "            }",
            "        }",
            "    }",
        ]
    lines += [
        "}",
        "",
        "secrets {",
        "    # One file per tunnel, mode 0600, written by install-secrets.sh; never committed.",
        "    include secrets.d/*.conf",
        "}",
        "",
    ]
    return "\n".join(lines)


def _xfrm(tunnels: list[dict[str, Any]]) -> str:
    lines = [
        "#!/bin/sh",
        "# XFRM interfaces for the route-based tunnels, with their BGP inside addresses.",
        "set -eu",
        "# UPLINK: the interface facing the internet (carries the encrypted packets).",
        'uplink="${UPLINK:-eth0}"',
        "# Forward between the LAN and the tunnels; loose reverse-path filtering, because a",
        "# cloud may answer over the other tunnel of a pair (ECMP/asymmetric return).",
        "sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=2",
    ]
    for t in tunnels:
        dev = f"xfrm{t['ifId']}"
        same = _same_net(t)
        # Off-link peers (Azure active-active) get a host address and a host route instead
        # of a second connected route for a /30 that already sits on another interface.
        prefix = t["insideCidr"].split("/")[1] if same else "32"
        lines += [
            f"# {t['name']}: {t['cloud']} {t['region']}",
            f'ip link add {dev} type xfrm dev "$uplink" if_id {t["ifId"]} 2>/dev/null || true',
            f"ip addr flush dev {dev}",
            f"ip addr replace {t['onpremInsideIp']}/{prefix} dev {dev}",
            f"ip link set {dev} up mtu 1400",
        ]
        if not same:
            lines.append(f"ip route replace {t['cloudInsideIp']}/32 dev {dev}")
    return "\n".join(lines) + "\n"


def _same_net(t: dict[str, Any]) -> bool:
    net = ipaddress.ip_network(t["insideCidr"])
    return ipaddress.ip_address(t["onpremInsideIp"]) in net


def _in_list(cloud: str, region: str) -> str:
    return f"FROM-{cloud}-{region}".upper()


def _frr(doc: dict[str, Any], public_ip: str, tunnels: list[dict[str, Any]]) -> str:
    asn = doc["asn"]
    lines = [
        "! FRR BGP configuration, rendered by hybrid-ml: one eBGP session per tunnel.",
        "frr defaults traditional",
        "!",
    ]
    for rng in doc["advertisedRanges"]:
        lines.append(f"ip prefix-list ONPREM-OUT permit {rng}")
        # FRR announces a `network` only if that exact prefix is routed (import-check is on
        # since 7.4); a blackhole route anchors the aggregate, more-specific routes still win.
        lines.append(f"ip route {rng} blackhole")
    clouds = sorted({(t["cloud"], t["region"]) for t in tunnels})
    for cloud, region in clouds:
        name = _in_list(cloud, region)
        ranges = next(t["cloudRanges"] for t in tunnels if (t["cloud"], t["region"]) == (cloud, region))
        for rng in ranges:
            # Only the cloud network's own ranges are accepted from it (le 32: its subnets).
            lines.append(f"ip prefix-list {name} permit {rng} le 32")
    lines += ["!", f"router bgp {asn}", f" bgp router-id {public_ip}"]
    for t in tunnels:
        peer = t["cloudInsideIp"]
        lines += [
            f" neighbor {peer} remote-as {t['cloudAsn']}",
            f" neighbor {peer} description {t['name']}",
            f" neighbor {peer} timers 10 30",
        ]
        if not _same_net(t):
            lines += [f" neighbor {peer} ebgp-multihop 2",
                      f" neighbor {peer} update-source {t['onpremInsideIp']}"]
    lines.append(" address-family ipv4 unicast")
    for rng in doc["advertisedRanges"]:
        lines.append(f"  network {rng}")
    for t in tunnels:
        peer = t["cloudInsideIp"]
        lines += [
            f"  neighbor {peer} activate",
            f"  neighbor {peer} prefix-list {_in_list(t['cloud'], t['region'])} in",
            f"  neighbor {peer} prefix-list ONPREM-OUT out",
        ]
    lines += [" exit-address-family", "!", ""]
    return "\n".join(lines)


def _install_secrets(stack: str, device: str, tunnels: list[dict[str, Any]]) -> str:
    names = " ".join(t["name"] for t in tunnels)
    return f"""#!/bin/sh
# Writes this device's pre-shared keys into secrets.d/ (mode 0600) from the secret
# stack output. Run where the Pulumi CLI can read stack {stack!r}; the keys never
# pass through files in the repository or the rendered configuration.
set -eu
umask 077
dir="${{SWANCTL_DIR:-/etc/swanctl}}/secrets.d"
mkdir -p "$dir"
keys="$(pulumi stack output vpnPreSharedKeys --stack {stack} --show-secrets --json)"
remote() {{ pulumi stack output onpremVpn --stack {stack} --json |
  python3 -c 'import json,sys; print(next(t["cloudAddress"] for t in json.load(sys.stdin)["tunnels"] if t["name"] == sys.argv[1]))' "$1"; }}
for name in {names}; do
  key="$(printf '%s' "$keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$name")"
  printf 'ike-%s {{\\n    id = %s\\n    secret = "%s"\\n}}\\n' "$name" "$(remote "$name")" "$key" > "$dir/$name.conf"
  chmod 600 "$dir/$name.conf"  # umask only covers new files
done
swanctl --load-all --file "${{SWANCTL_DIR:-/etc/swanctl}}/swanctl.conf"
echo "loaded keys for {device}: {names}"
"""


def render_onprem(doc: dict[str, Any], stack: str) -> dict[str, str]:
    """Relative path -> file text for every device in the `onpremVpn` output."""
    if not isinstance(doc, dict) or not isinstance(doc.get("tunnels"), list):
        raise OnPremConfigError("no 'tunnels' list in the onpremVpn output")
    files: dict[str, str] = {}
    pending = 0
    for device, info in sorted(doc["devices"].items()):
        tunnels = [{**t, "ifId": _if_id(t)} for t in doc["tunnels"] if t["device"] == device]
        pending += sum(_value(t["cloudAddress"]) == PENDING for t in tunnels)
        public_ip = _value(info["publicIp"])
        files[f"{device}/swanctl.conf"] = _swanctl(device, public_ip, tunnels)
        files[f"{device}/xfrm-interfaces.sh"] = _xfrm(tunnels)
        files[f"{device}/frr.conf"] = _frr(doc, public_ip, tunnels)
        files[f"{device}/install-secrets.sh"] = _install_secrets(stack, device, tunnels)
    status = (
        f"{pending} cloud tunnel addresses are only known after `pulumi up`; they show as "
        f"{PENDING}. Re-render then with:\n\n"
        f"    pulumi stack output --stack {stack} --json > outputs.json\n"
        f"    hybrid-ml onprem-config {stack} --outputs outputs.json --out DIR\n"
        if pending else "Every value is known; this configuration is ready to install.\n"
    )
    files["README.md"] = (
        f"# On-prem VPN device configuration ({stack})\n\n"
        f"{len(doc['tunnels'])} tunnels across {len(doc['devices'])} device(s). {status}\n"
        "Per device: copy swanctl.conf to /etc/swanctl/, run xfrm-interfaces.sh, merge frr.conf "
        "into FRR, then run install-secrets.sh (needs Pulumi access) to load the keys.\n"
    )
    return files


def write_onprem(doc: dict[str, Any], stack: str, out_dir: Path) -> Path:
    """Write the rendered files under `out_dir/onprem/`; returns that directory."""
    root = out_dir / "onprem"
    for rel, text in render_onprem(doc, stack).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if rel.endswith(".sh"):
            path.chmod(0o755)
    return root
