"""Encryption in transit: TLS-only storage endpoints, strong IPsec, TLS on Kafka and ingress.

The rules live in ``transit_storage`` (S3, Azure Storage), ``transit_vpn`` (site-to-site VPNs)
and ``transit_kubernetes`` (Kafka listeners, Ingress, Gateway); this module is the pack's list
of them, in the pack's order, and where the tests import the checks from.
"""

from __future__ import annotations

from transit_kubernetes import (
    GATEWAY_TYPES,
    INGRESS_TYPES,
    KAFKA_TYPES,
    check_ingress,
    check_kafka,
    ingress_tls,
    kafka_listener_tls,
)
from transit_storage import (
    S3_BUCKET_POLICY_TYPES,
    azure_storage_secure_transport,
    check_azure_storage_transport,
    denies_insecure_transport,
    s3_bucket_secure_transport,
)
from transit_vpn import check_vpn, vpn_strong_crypto

__all__ = [
    "GATEWAY_TYPES",
    "INGRESS_TYPES",
    "KAFKA_TYPES",
    "POLICIES",
    "S3_BUCKET_POLICY_TYPES",
    "check_azure_storage_transport",
    "check_ingress",
    "check_kafka",
    "check_vpn",
    "denies_insecure_transport",
]

POLICIES = [
    s3_bucket_secure_transport,
    azure_storage_secure_transport,
    vpn_strong_crypto,
    kafka_listener_tls,
    ingress_tls,
]
