"""The hybrid-ml application: stack config to Pulumi program, offline preview and CLI.

Layers, each importing only the ones before it:
config (pydantic models) → plan (pure derivations) → checks (key-path problems) →
program (the Pulumi program; services registered in program/services) → preview (offline
engine, plan file, diff, manifests, policy pack client, reports) → render (tree, graph, on-prem
VPN files, config reference) → cli.
"""
