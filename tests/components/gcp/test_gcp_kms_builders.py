"""The pure builder of components/gcp/kms.py: a key's settings."""

from __future__ import annotations

from components.gcp import cluster_kms, kms


def test_default_key_rotates_every_90_days_and_sets_nothing_else():
    assert kms.key_settings() == {"purpose": "ENCRYPT_DECRYPT", "rotation_period": "7776000s"}


def test_destroy_schedule_is_given_in_seconds():
    assert kms.key_settings(destroy_after_days=30)["destroy_scheduled_duration"] == "2592000s"


def test_hsm_keys_get_an_hsm_version_template():
    assert kms.key_settings(hsm=True)["version_template"] == {
        "algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION", "protection_level": "HSM"}


def test_cluster_kms_still_exports_the_shared_constants():
    assert cluster_kms.ROTATION_PERIOD == kms.ROTATION_PERIOD
    assert cluster_kms.ENCRYPTER_DECRYPTER == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
