"""Encryption keys rotate: AWS KMS keys, GCP CryptoKeys and Azure Key Vault keys."""

from __future__ import annotations

import re

from helpers import (
    Findings,
    elements,
    is_unknown,
    lookup,
    validate_each,
)
from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationPolicy,
    Severity,
)

# --- KMS key rotation (AWS, GCP, Azure) ---------------------------------------------------------------

_MAX_ROTATION_SECONDS = 365 * 24 * 3600
_ASYMMETRIC_AWS = re.compile(r"^(RSA_|ECC_|HMAC_|SM2|ML_DSA)")


def _duration_seconds(value: str) -> float | None:
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)s", value.strip())
    return float(match.group(1)) if match else None


def check_key_rotation(resource_type: str, props: object, f: Findings) -> list[str]:
    """Why this key does not rotate (empty when it does or the rule does not apply)."""
    if resource_type == "aws:kms/key:Key":
        spec = lookup(props, "customerMasterKeySpec")
        if spec is None:
            spec = lookup(props, "keySpec")
        usage = lookup(props, "keyUsage")
        for value in (spec, usage):
            if is_unknown(value):
                f.unknown(value)
                return []
        # Only symmetric ENCRYPT_DECRYPT keys support automatic rotation.
        if (isinstance(spec, str) and _ASYMMETRIC_AWS.match(spec)) or usage not in (
            None,
            "ENCRYPT_DECRYPT",
        ):
            return []
        rotation = lookup(props, "enableKeyRotation")
        if is_unknown(rotation):
            f.unknown(rotation)
            return []
        return [] if rotation is True else ["enableKeyRotation is not true"]
    if resource_type == "gcp:kms/cryptoKey:CryptoKey":
        purpose = lookup(props, "purpose")
        if is_unknown(purpose):
            f.unknown(purpose)
            return []
        if purpose not in (None, "ENCRYPT_DECRYPT"):
            return []  # asymmetric and MAC keys cannot rotate automatically
        period = lookup(props, "rotationPeriod")
        if is_unknown(period):
            f.unknown(period)
            return []
        if not isinstance(period, str) or not period:
            return ["rotationPeriod is not set"]
        seconds = _duration_seconds(period)
        if seconds is None or seconds > _MAX_ROTATION_SECONDS:
            return [f"rotationPeriod {period!r} is longer than 365 days"]
        return []
    if resource_type == "azure-native:keyvault:Key":
        actions = lookup(props, "properties", "rotationPolicy", "lifetimeActions")
        if is_unknown(actions):
            f.unknown(actions)
            return []
        for action in elements(actions, ("properties", "rotationPolicy", "lifetimeActions")):
            kind = lookup(action, "action", "type")
            if is_unknown(kind):
                f.unknown(kind)
                return []
            if isinstance(kind, str) and kind.lower() == "rotate":
                return []
        return ["properties.rotationPolicy has no lifetime action of type 'rotate'"]
    return []


kms_key_rotation = ResourceValidationPolicy(
    name="kms-key-rotation",
    display_name="Encryption keys rotate automatically",
    description=(
        "Symmetric customer-managed keys rotate: aws:kms Key enableKeyRotation true; "
        "gcp:kms CryptoKey (ENCRYPT_DECRYPT) rotationPeriod at most 365 days; "
        "azure-native:keyvault Key rotationPolicy with a 'rotate' lifetime action."
    ),
    validate=validate_each(check_key_rotation),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["encryption-at-rest", "key-management"],
    remediation_steps=(
        "AWS: enable_key_rotation=True (optionally rotation_period_in_days). GCP: "
        "rotation_period='7776000s' (90 days). Azure: properties.rotation_policy.lifetime_actions "
        "with action type 'rotate' (e.g. timeAfterCreate P1Y)."
    ),
)
