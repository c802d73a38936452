"""`hybrid-ml graph`: the platform picture from the stack config (Mermaid, DOT, SVG via `dot`)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from stacks.cli.main import main
from stacks.config.platform import PlatformConfig
from stacks.config.services import Services
from stacks.plan.clusters import planned_clusters
from stacks.plan.tunnels import planned_tunnels
from stacks.preview.run import load_platform
from stacks.preview.stack_file import read_stack
from stacks.program.validate import parse_platform
from stacks.render.graph import build_graph
from stacks.render.graph_mermaid import DOT_NOT_FOUND, to_dot, to_mermaid
from stacks.render.graph_services import team_placements
from tests.conftest import ROOT, stack_platform, write_stack

#: The issue-#6 services of each stack (trimmed to what places them), for each service the
#: shipped stack file does not configure yet; a service the stack file has is used as is.
SERVICES = yaml.safe_load("""
dev:
  namespaces: [{name: mlflow}, {name: kafka}, {name: monitoring}, {name: serving, quota: {gpus: 6}}]
  services:
    monitoring: {central: onprem}
    mlflow:
      clusters: [onprem, aws/eu-west-1]
      artifactStore: artifacts
      oidc:
        issuerUrl: https://sso.hml.internal/realms/ml-dev
        clientId: mlflow
        jwksUri: https://sso.hml.internal/realms/ml-dev/protocol/openid-connect/certs
        audiences: [mlflow]
      onprem:
        artifacts:
          endpointUrl: https://s3.ams-dc1.hml.internal
          endpointCidrs: [10.1.40.0/24]
          bucket: hml-dev-mlflow-artifacts
    kafka:
      clusters: [{cluster: onprem, layout: combined, brokerStorage: 50Gi}]
    serving:
      models:
        - name: fraud-detector
          registeredModel: fraud-detector
          clusters: [onprem]
          gpuTypes: [nvidia-t4]
          cpu: "1"
          memory: 8Gi
          stable:
            version: "4"
            image: registry.hml.example.com/models/fraud-detector:4@sha256:4e3b7d1f0a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e
prod:
  namespaces:
    - {name: mlflow}
    - {name: kafka}
    - {name: monitoring}
    - {name: serving, quota: {gpus: 8, cpu: "24", memory: 128Gi}}
  services:
    monitoring: {central: onprem}
    mlflow:
      clusters: [onprem, aws/eu-west-1, gcp/europe-west4, azure/westeurope]
      artifactStore: artifacts
      oidc:
        issuerUrl: https://login.microsoftonline.com/8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d/v2.0
        clientId: 5d3c1b2a-9e8f-4a7b-8c6d-2e1f0a9b8c7d
        jwksUri: https://login.microsoftonline.com/8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d/discovery/v2.0/keys
        audiences: [5d3c1b2a-9e8f-4a7b-8c6d-2e1f0a9b8c7d]
      onprem:
        artifacts:
          endpointUrl: https://s3.ams-dc1.hml.internal
          endpointCidrs: [10.1.40.0/24]
          bucket: hml-prod-mlflow-artifacts
        volumeSnapshotClass: csi-rbdplugin-snapclass
    kafka:
      clusters: [{cluster: onprem}, {cluster: aws/eu-west-1}]
      mirrors:
        - {source: onprem, target: aws/eu-west-1, topicPrefixes: [features-, training-]}
    serving:
      auth:
        issuer: https://login.hml.example.com/realms/ml
        jwksUri: https://login.hml.example.com/realms/ml/protocol/openid-connect/certs
      failover:
        domain: serve.hml.example.com
        hostedZoneId: Z0123456789ABCDEFGHIJ
        onpremPublicAddress: 198.51.100.20
      models:
        - name: fraud-detector
          registeredModel: fraud-detector
          clusters: [onprem, aws/eu-west-1]
          gpuTypes: [nvidia-l40s, nvidia-l4]
          cpu: "2"
          memory: 16Gi
          stable:
            version: "3"
            image: registry.hml.example.com/models/fraud-detector:3@sha256:3f2a6c0e9b8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b
            minReplicas: 2
            maxReplicas: 3
          canary:
            version: "4"
            image: registry.hml.example.com/models/fraud-detector:4@sha256:4e3b7d1f0a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e
            weight: 10
          failover: {primary: onprem, secondary: aws/eu-west-1}
""")
TITLES = {"monitoring": "Monitoring", "mlflow": "MLflow tracking", "kafka": "Kafka",
          "serving": "Model serving"}
CLOUDS = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}

# --- A strict reader of the Mermaid the renderer writes --------------------------------------------
_ID = r"[A-Za-z][A-Za-z0-9_]*"
_SUBGRAPH = re.compile(rf'^subgraph ({_ID})\["([^"]*)"\]$')
_NODE = re.compile(rf'^({_ID})(\[\[|\[\(|\(\[|\{{\{{|\[|\()"([^"]*)"(\]\]|\)\]|\]\)|\}}\}}|\]|\))$')
_EDGE = re.compile(rf'^({_ID}) (<==>|<-->|-->|-\.->|~~~)(?:\|"([^"]*)"\|)? ({_ID})$')
_SHAPES = {"[[": "]]", "[(": ")]", "([": "])", "{{": "}}", "[": "]", "(": ")"}


def _label(text: str) -> str:
    return (text.replace("<br/>", "\n").replace("#quot;", '"').replace("#lt;", "<")
            .replace("#gt;", ">").replace("#35;", "#"))


def parse_mermaid(text: str) -> dict:
    """Subgraphs and nodes (label, parent), edges; fails on any line the grammar does not allow."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[0] == "flowchart LR"
    stack: list[str] = []
    subgraphs: dict[str, tuple[str, str | None]] = {}
    nodes: dict[str, tuple[str, str | None]] = {}
    edges: list[tuple[str, str, str | None, str]] = []
    classed: list[str] = []
    for line in lines[1:]:
        parent = stack[-1] if stack else None
        if line.startswith(("%%", "classDef ")):
            continue
        if line == "end":
            assert stack, "`end` without a subgraph"
            stack.pop()
        elif m := _SUBGRAPH.match(line):
            assert m[1] not in subgraphs and m[1] not in nodes, f"duplicate id {m[1]}"
            subgraphs[m[1]] = (_label(m[2]), parent)
            stack.append(m[1])
        elif m := _NODE.match(line):
            assert _SHAPES[m[2]] == m[4], line
            assert m[1] not in nodes and m[1] not in subgraphs, f"duplicate id {m[1]}"
            nodes[m[1]] = (_label(m[3]), parent)
        elif m := _EDGE.match(line):
            edges.append((m[1], m[2], None if m[3] is None else _label(m[3]), m[4]))
        elif line.startswith("class "):
            classed += line.split()[1].split(",")
        else:
            raise AssertionError(f"not a quoted node, subgraph, edge or class line: {line!r}")
    assert not stack, f"unclosed subgraphs {stack}"
    declared = set(nodes) | set(subgraphs)
    for source, _, _, target in edges:
        assert source in declared and target in declared, (source, target)
    assert set(classed) <= declared
    assert "end" not in {i.lower() for i in declared}
    return {"subgraphs": subgraphs, "nodes": nodes, "edges": edges}


# --- Configs ---------------------------------------------------------------------------------------


def _with_services(stack: str) -> PlatformConfig:
    platform = stack_platform(stack)
    services = platform.setdefault("services", {})
    for name, section in SERVICES[stack]["services"].items():
        services.setdefault(name, section)  # what the stack file already has wins
    platform["kubernetes"].setdefault("namespaces", SERVICES[stack]["namespaces"])
    return parse_platform(platform)


def _placements(cfg: PlatformConfig) -> set[tuple[str, str]]:
    """Where each service runs, read from the config model directly (not through graph.py)."""
    s, refs = cfg.services, [c.ref for c in planned_clusters(cfg)]
    out: set[tuple[str, str]] = set()
    if s.monitoring is not None:
        out |= {("monitoring", r) for r in refs}
    if s.mlflow is not None:
        out |= {("mlflow", r) for r in s.mlflow.clusters}
    if s.kafka is not None:
        out |= {("kafka", c.cluster) for c in s.kafka.clusters}
    if s.serving is not None:
        out |= {("serving", r) for m in s.serving.models for r in m.clusters}
    return out


def _site_label(cfg: PlatformConfig, site: str, region: str) -> str:
    return (f"On-prem data centre {cfg.sites.onprem.datacenter}" if site == "onprem"
            else f"{CLOUDS[site]} {region}")


def _check_picture(cfg: PlatformConfig, parsed: dict) -> None:
    subgraphs, nodes, edges = parsed["subgraphs"], parsed["nodes"], parsed["edges"]
    site_of = {label: sid for sid, (label, parent) in subgraphs.items() if parent is None}
    cluster_ids = {}
    for c in planned_clusters(cfg):  # every cluster, inside its site
        site = site_of[_site_label(cfg, c.site, c.region)]
        [cid] = [sid for sid, (label, parent) in subgraphs.items()
                 if parent == site and f" {c.name} · Kubernetes {c.version}" in label]
        cluster_ids[c.ref] = cid
        pools = _pools(cfg, c)
        gpu = {label.split("\n")[0] for label, parent in nodes.values() if parent == cid}
        assert {f"GPU pool {p.name}" for p in pools} <= gpu
    # every VPN link: an edge between the device and the region's network, with its tunnel count
    links: dict[tuple[str, str, str], int] = {}
    for t in planned_tunnels(cfg):
        links[(t.device.name, t.cloud, t.region)] = links.get((t.device.name, t.cloud, t.region), 0) + 1
    assert links, "the stacks have VPN links"
    for (device, cloud, region), count in links.items():
        site = site_of[_site_label(cfg, cloud, region)]
        found = [e for e in edges
                 if nodes[e[0]][0].startswith(f"VPN device {device}\n")
                 and nodes.get(e[3], ("", None))[1] == site and e[2] and e[2].startswith(f"{count} IPsec")]
        assert len(found) == 1, (device, cloud, region)
    # every service placement: a node of that service inside that cluster
    expected = _placements(cfg)
    for service, ref in expected:
        inside = [label for label, parent in nodes.values() if parent == cluster_ids[ref]]
        assert any(label.split("\n")[0].startswith(TITLES[service]) for label in inside), (service, ref)
    shown = {(svc, ref) for svc, title in TITLES.items() for ref, cid in cluster_ids.items()
             for label, parent in nodes.values()
             if parent == cid and label.split("\n")[0].startswith(title)}
    assert shown == expected  # and nowhere else


def _pools(cfg: PlatformConfig, c) -> list:
    k = cfg.kubernetes
    return (k.onprem if c.site == "onprem" else getattr(k, c.site)[c.region]).gpu_pools


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_show_every_cluster_vpn_link_and_service(stack):
    cfg = load_platform(read_stack(ROOT, stack))
    parsed = parse_mermaid(to_mermaid(build_graph(cfg, stack)))
    _check_picture(cfg, parsed)
    assert len(parsed["subgraphs"]) == len(planned_clusters(cfg)) + 1 + sum(
        len(cfg.cloud_regions(c)) for c in cfg.enabled_clouds())


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stacks_with_services_show_every_placement_and_flow(stack):
    cfg = _with_services(stack)
    parsed = parse_mermaid(to_mermaid(build_graph(cfg, stack)))
    _check_picture(cfg, parsed)
    assert len(_placements(cfg)) >= 5
    nodes, edges = parsed["nodes"], parsed["edges"]

    def edge(source_title: str, source_parent: str, label: str) -> list:
        return [e for e in edges if e[2] and e[2].startswith(label)
                and nodes[e[0]][0].startswith(source_title) and source_parent in e[0]]

    # MLflow writes to its site's store (cloud) or the on-prem S3 bucket
    for ref in cfg.services.mlflow.clusters:
        [(_, _, _, target)] = edge("MLflow", ref.replace("/", "_").replace("-", "_"), "artifacts")
        assert "store" in nodes[target][0].lower()
    # monitoring remote-writes into the central cluster
    remote = [e for e in edges if e[2] == "remote write"]
    assert len(remote) == len(planned_clusters(cfg)) - 1
    assert {nodes[e[3]][0] for e in remote} <= {"Monitoring (central)\nPrometheus · Alertmanager · Grafana"}
    if stack == "prod":
        assert any(e[2] == "MirrorMaker 2: features-, training-" for e in edges)
        assert any(e[2] == "failover fraud-detector" for e in edges)


def test_node_ids_are_unique_safe_and_labels_quoted_even_for_odd_names():
    cfg = _with_services("prod")
    teams = [SimpleNamespace(name='data "science" #1 <end>', sites=["onprem", "gcp"]),
             {"name": "end", "clusters": ["aws/eu-west-1"]}]
    text = to_mermaid(build_graph(cfg, "prod", teams=teams))
    parsed = parse_mermaid(text)
    labels = [label for label, _ in parsed["nodes"].values()]
    assert labels.count('Team data "science" #1 <end>') == 2  # on-prem and the GCP cluster
    assert "Team end" in labels
    assert '"science"' not in text and "<end>" not in text  # escaped as entity codes


def test_team_placements_read_clusters_or_sites():
    cfg = stack_platform("prod")
    clusters = planned_clusters(parse_platform(cfg))
    teams = {"vision": SimpleNamespace(sites=["aws"]), "nlp": {"clusters": ["onprem", "gcp/europe-west4"]}}
    assert team_placements(teams, clusters) == {
        "vision": ["aws/eu-west-1"], "nlp": ["onprem", "gcp/europe-west4"]}
    assert team_placements(None, clusters) == {}


def test_services_are_read_defensively():
    # Service models change under other hands: placements come from whatever names them.
    cfg = parse_platform(stack_platform("prod"))
    services = Services.model_construct(
        monitoring=SimpleNamespace(central="gcp/europe-west4"),
        kafka=SimpleNamespace(clusters=[SimpleNamespace(cluster="onprem"), "azure/westeurope"],
                              mirrors=[SimpleNamespace(source="onprem", target="azure/westeurope")]),
        serving=SimpleNamespace(models=[SimpleNamespace(name="m", sites=["aws/eu-west-1", "onprem"])]),
        mlflow=None)
    graph = build_graph(cfg.model_copy(update={"services": services}), "prod")
    parsed = parse_mermaid(to_mermaid(graph))
    placed = {(label.split("\n")[0], parent) for label, parent in parsed["nodes"].values()}
    assert ("Monitoring (central)", "cluster_gcp_europe_west4") in placed
    assert ("Kafka", "cluster_azure_westeurope") in placed
    assert ("Model serving", "cluster_aws_eu_west_1") in placed and ("Model serving", "cluster_onprem") in placed
    assert sum(1 for label, _ in placed if label == "Monitoring") == len(planned_clusters(cfg)) - 1
    assert any(e[2] == "MirrorMaker 2" for e in parsed["edges"])


def test_dot_is_balanced_and_declares_every_edge_endpoint():
    text = to_dot(build_graph(_with_services("prod"), "prod"))
    assert text.startswith('digraph "platform-prod" {')
    assert text.count("{") == text.count("}")
    declared = set(re.findall(r'^\s*"([A-Za-z0-9_]+)" \[label=', text, re.MULTILINE))
    for source, target in re.findall(r'^\s*"([^"]+)" -> "([^"]+)"', text, re.MULTILINE):
        assert source in declared and target in declared
    assert len(re.findall(r'subgraph "cluster_', text)) == 9


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed")
def test_real_graphviz_accepts_the_dot():
    svg = subprocess.run(["dot", "-Tsvg"], input=to_dot(build_graph(_with_services("prod"), "prod")),
                         capture_output=True, text=True, check=True).stdout
    assert "<svg" in svg and "Azure westeurope" in svg and "MirrorMaker 2" in svg


def _fake_dot(bin_dir: Path, exit_code: int = 0) -> Path:
    bin_dir.mkdir()
    script = bin_dir / "dot"
    script.write_text(
        "#!/bin/sh\n"
        'echo "$@" > "$0.args"\n'
        '/bin/cat > "$0.stdin"\n'
        f"if [ {exit_code} -ne 0 ]; then echo 'Error: syntax error in line 1' >&2; exit {exit_code}; fi\n"
        "printf '<svg xmlns=\"http://www.w3.org/2000/svg\"><!-- fake --></svg>'\n")
    script.chmod(0o755)
    return script


def test_svg_is_drawn_by_dot_on_path(tmp_path, monkeypatch, capsys):
    script = _fake_dot(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    out = tmp_path / "pics" / "prod.svg"
    assert main(["graph", "prod", "-C", str(ROOT), "--format", "svg", "--out", str(out)]) == 0
    assert out.read_text().startswith("<svg")
    assert Path(f"{script}.args").read_text().strip() == "-Tsvg"
    assert Path(f"{script}.stdin").read_text() == to_dot(build_graph(load_platform(read_stack(ROOT, "prod")), "prod"))
    assert "written to" in capsys.readouterr().err


def test_graphviz_failure_is_reported(tmp_path, monkeypatch, capsys):
    _fake_dot(tmp_path / "bin", exit_code=1)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert main(["graph", "dev", "-C", str(ROOT), "--format", "png", "--out", str(tmp_path / "x.png")]) == 3
    assert "Graphviz failed to draw the png: Error: syntax error" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_no_graphviz_is_a_usage_error(tmp_path, monkeypatch, capsys, fmt):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` here
    assert main(["graph", "dev", "-C", str(ROOT), "--format", fmt, "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {DOT_NOT_FOUND}"
    assert DOT_NOT_FOUND == "Graphviz `dot` not found; use --format mermaid or install graphviz"
    assert not (tmp_path / "x").exists()


def test_cli_prints_mermaid_and_writes_markdown(tmp_path, capsys):
    assert main(["graph", "dev", "-C", str(ROOT)]) == 0
    out = capsys.readouterr().out
    parse_mermaid(out)
    assert "EKS hml-dev-aws-eu-west-1" in out
    md = tmp_path / "platform.md"
    assert main(["graph", "dev", "-C", str(ROOT), "--out", str(md)]) == 0
    assert md.read_text() == f"```mermaid\n{out}```\n"
    assert main(["graph", "dev", "-C", str(ROOT), "--format", "dot"]) == 0
    assert capsys.readouterr().out.startswith('digraph "platform-dev"')


def test_bad_stack_config_exits_2_like_preview(tmp_path):
    platform = stack_platform("dev")
    platform["kubernetes"]["aws"]["eu-west-1"]["gpuPools"][0]["gpuType"] = "nvidia-z9"
    write_stack(tmp_path, "dev", platform)
    proc = subprocess.run(
        [sys.executable, "-m", "stacks", "graph", "dev", "-C", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )
    assert proc.returncode == 2
    assert "invalid stack config (Pulumi.dev.yaml)" in proc.stderr
    assert "kubernetes.aws.eu-west-1.gpuPools[0].gpuType" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_architecture_picture_is_the_prod_graph():
    # The architecture picture (docs/architecture.md, linked from the README) is the command's
    # output, not a drawing that drifts.
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    expected = to_mermaid(build_graph(load_platform(read_stack(ROOT, "prod")), "prod"))
    assert block.strip() == expected.strip()
