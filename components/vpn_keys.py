"""Pre-shared keys for VPN tunnels: generated, secret, rotatable."""

from __future__ import annotations

import pulumi
import pulumi_random as random

#: Long enough to resist offline guessing of a captured IKE exchange; AWS caps keys at 64.
PSK_LENGTH = 48


def pre_shared_key(name: str, rotation: int, parent: pulumi.Resource) -> pulumi.Output[str]:
    """A new random key for one tunnel; bumping `rotation` replaces it.

    The key only ever exists as a Pulumi secret: in state it is encrypted, in
    previews and plans it shows as `[secret]`.
    """
    password = random.RandomPassword(
        f"{name}-psk",
        length=PSK_LENGTH,
        # Letters and digits only: every cloud and strongSwan accept them unquoted.
        special=False,
        keepers={"rotation": str(rotation)},
        opts=pulumi.ResourceOptions(parent=parent),
    )
    # AWS refuses keys that start with "0"; one fixed leading letter keeps a single
    # key format for every cloud.
    return pulumi.Output.secret(pulumi.Output.concat("k", password.result))
