"""The component every resource of one team hangs under, whatever cloud or cluster it is on."""

from __future__ import annotations

import pulumi


class Team(pulumi.ComponentResource):
    """Groups what a team owns (its stores, grants, environments and Grafana folder), so the
    preview, `pulumi stack` and `hybrid-ml team remove` see one tree per team. It creates
    nothing itself."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:teams:Team", name, None, opts)
        self.register_outputs({})
