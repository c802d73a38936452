"""Wire the kafka service onto the clusters the config names (skeleton)."""

from __future__ import annotations

from stacks.services import ServiceContext


def build_kafka(ctx: ServiceContext) -> None:
    """Create the kafka service on every configured cluster; export its stack output."""
    raise NotImplementedError("kafka is not built yet")
