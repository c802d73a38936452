"""The hybrid-ml-platform policy pack: builds the PolicyPack from the rule modules.

Constructing PolicyPack starts the analyzer gRPC server and never returns, so
nothing may import this module; tests import the rule modules instead. The CLI
runs this file with the pack directory first on sys.path, hence the flat imports.
"""

from pathlib import Path

import encryption
import exposure
import kubernetes_workloads
import network
import protection
import residency
import tagging
import transit
import work_queues
import workflow_charts
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="hybrid-ml-security",
    display_name="Hybrid ML platform security guardrails",
    enforcement_level=EnforcementLevel.ADVISORY,  # each policy declares its own level
    policies=[
        *encryption.POLICIES,
        *transit.POLICIES,
        *residency.POLICIES,
        *work_queues.POLICIES,
        *tagging.POLICIES,
        *exposure.POLICIES,
        *protection.POLICIES,
        *kubernetes_workloads.POLICIES,
        *network.POLICIES,
        *workflow_charts.POLICIES,
    ],
    readme=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    provider="multi-cloud",
    tags=["security", "residency", "aws", "gcp", "azure", "kubernetes"],
)
