"""Cloud KMS key rings, rotating keys and key grants: one definition shared by the cluster,
the database and the artifact store."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

DAY_SECONDS = 86_400
#: 90 days: well inside the policy pack's 365-day ceiling; old versions stay usable for decrypt.
ROTATION_PERIOD = f"{90 * DAY_SECONDS}s"
ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"


def key_settings(destroy_after_days: int | None = None, hsm: bool = False) -> dict:
    """The inputs of a symmetric, 90-day-rotating key beyond its name, ring and labels:
    how long a destroyed version stays scheduled (the service default when None) and, with
    `hsm`, HSM protection."""
    settings: dict = {"purpose": "ENCRYPT_DECRYPT", "rotation_period": ROTATION_PERIOD}
    if destroy_after_days is not None:
        settings["destroy_scheduled_duration"] = f"{destroy_after_days * DAY_SECONDS}s"
    if hsm:
        settings["version_template"] = {"algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION",
                                        "protection_level": "HSM"}
    return settings


def regional_key(
    name: str, parent: pulumi.Resource, *, ring_name: str, key_name: str, project: str,
    region: str, labels: dict[str, str], protect: bool, destroy_after_days: int | None = None,
    hsm: bool = False,
) -> gcp.kms.CryptoKey:
    """A key ring `<name>-keyring` in `region` and its rotating key `<name>-key`, both
    protected with `protect`."""
    stateful = pulumi.ResourceOptions(parent=parent, protect=protect)
    ring = gcp.kms.KeyRing(f"{name}-keyring", name=ring_name, project=project, location=region,
                           opts=stateful)
    return gcp.kms.CryptoKey(f"{name}-key", name=key_name, key_ring=ring.id, labels=labels,
                             **key_settings(destroy_after_days, hsm), opts=stateful)


def key_grant(
    name: str, key: gcp.kms.CryptoKey, member: pulumi.Input[str], parent: pulumi.Resource,
    depends_on: list[pulumi.Resource] | None = None,
) -> gcp.kms.CryptoKeyIAMMember:
    """`member` may encrypt and decrypt with `key`. Consumers take the key id from the grant,
    so they come after it and never meet a key they cannot use."""
    return gcp.kms.CryptoKeyIAMMember(
        name, crypto_key_id=key.id, role=ENCRYPTER_DECRYPTER, member=member,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on))
