"""Encryption in transit: rule logic, then every policy through the pack (one pack run)."""

from __future__ import annotations

import json

import pytest
from policy_testkit import (
    AWS_EU,
    AZURE_EU,
    GCP_EU,
    K8S,
    K8S_LABELS,
    TAGS,
    Case,
    assert_case,
    case,
    case_id,
    findings,
    props,
    rec,
    run_cases,
    s3_bucket,
)
from transit import check_ingress, check_vpn, denies_insecure_transport


def _policy(statement: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


DENY = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": "*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


@pytest.mark.parametrize(
    "statement, ok",
    [
        (DENY, True),
        (
            {
                **DENY,
                "Principal": {"AWS": "*"},
                "Action": ["s3:*"],
                "Condition": {"Bool": {"aws:securetransport": False}},
            },
            True,
        ),
        ({**DENY, "Condition": {"BoolIfExists": {"aws:SecureTransport": ["false"]}}}, True),
        ({**DENY, "Effect": "Allow"}, False),
        ({**DENY, "Action": "s3:GetObject"}, False),
        ({**DENY, "Principal": {"AWS": "arn:aws:iam::1:root"}}, False),
        ({**DENY, "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}}, False),
    ],
)
def test_denies_insecure_transport(statement: dict, ok: bool) -> None:
    assert denies_insecure_transport(_policy(statement)) is ok
    assert denies_insecure_transport("{not json") is False


STRONG_TUNNEL = {
    "IkeVersions": ["ikev2"],
    "Phase1EncryptionAlgorithms": ["AES256-GCM-16"],
    "Phase2EncryptionAlgorithms": ["AES256"],
    "Phase1IntegrityAlgorithms": ["SHA2-256"],
    "Phase2IntegrityAlgorithms": ["SHA2-384", "SHA2-512"],
    "Phase1DhGroupNumbers": [20, 21],
    "Phase2DhGroupNumbers": [14],
}


GCP_SUITE = {
    "phase1": {"encryptions": ["AES-GCM-16-256"], "prves": ["PRF-HMAC-SHA2-384"], "dhs": ["Group-20"]},
    "phase2": {"encryptions": ["AES-GCM-16-256"], "pfs": ["Group-20"]},
}


def aws_vpn(**overrides: object) -> dict:
    inputs = {f"tunnel{n}{k}": v for n in (1, 2) for k, v in STRONG_TUNNEL.items()}
    inputs.update(overrides)
    return {"customerGatewayId": "[unknown]", "type": "ipsec.1", "tags": TAGS, **inputs}


def test_aws_vpn_rules() -> None:
    f, _ = findings()
    assert check_vpn("aws:ec2/vpnConnection:VpnConnection", props(aws_vpn()), f) == []
    weak = aws_vpn(
        tunnel2IkeVersions=["ikev1", "ikev2"],
        tunnel1Phase1DhGroupNumbers=[2, 14],
        tunnel1Phase2EncryptionAlgorithms=["AES128"],
        tunnel2Phase2DhGroupNumbers=[22],
    )
    problems = check_vpn("aws:ec2/vpnConnection:VpnConnection", props(weak), f)
    assert problems == [
        "tunnel1Phase2EncryptionAlgorithms allows ['AES128']",
        "tunnel1Phase1DhGroupNumbers allows [2]",
        "tunnel2IkeVersions allows ['ikev1']",
        "tunnel2Phase2DhGroupNumbers allows [22]",
    ]
    unset = {k: v for k, v in aws_vpn().items() if not k.startswith("tunnel2")}
    assert len(check_vpn("aws:ec2/vpnConnection:VpnConnection", props(unset), f)) == 7
    f.settle()


def test_gcp_and_azure_vpn_rules() -> None:
    f, _ = findings()
    gcp = "gcp:compute/vPNTunnel:VPNTunnel"
    # Absent ikeVersion is the provider default, IKEv2; the cipher suite must be pinned.
    assert check_vpn(gcp, props({"cipherSuite": GCP_SUITE}), f) == []
    assert check_vpn(gcp, props({"ikeVersion": 1, "cipherSuite": GCP_SUITE}), f) == [
        "ikeVersion is 1, not 2"
    ]
    assert check_vpn(gcp, props({}), f) == [
        "cipherSuite is not set (Cloud VPN then also accepts weak proposals)"
    ]
    weak = {"phase1": {**GCP_SUITE["phase1"], "dhs": ["Group-20", "Group-2"]},
            "phase2": {"encryptions": ["AES-CBC-128"], "integrities": ["HMAC-SHA1-96"]}}
    assert check_vpn(gcp, props({"cipherSuite": weak}), f) == [
        "cipherSuite.phase1.dhs allows ['Group-2']",
        "cipherSuite.phase2.encryptions allows ['AES-CBC-128']",
        "cipherSuite.phase2.integrities allows ['HMAC-SHA1-96']",
        "cipherSuite.phase2.pfs is not set",
    ]
    assert (
        check_vpn(
            "azure-native:network:VirtualNetworkGatewayConnection",
            props({"connectionType": "ExpressRoute"}),
            f,
        )
        == []
    )
    assert check_vpn(
        "azure-native:network:VirtualNetworkGatewayConnection",
        props({"connectionType": "IPsec", "connectionProtocol": "IKEv2"}),
        f,
    ) == ["ipsecPolicies is empty (Azure's default policy allows weak proposals)"]
    f.settle()


def test_ingress_host_coverage() -> None:
    f, _ = findings()
    spec = {
        "spec": {
            "tls": [{"hosts": ["*.ml.example.com"], "secretName": "wild"}],
            "rules": [{"host": "api.ml.example.com"}, {"host": "ml.example.com"}],
        }
    }
    assert check_ingress("kubernetes:networking.k8s.io/v1:Ingress", props(spec), f) == [
        "hosts without TLS: ['ml.example.com']"
    ]
    spec["spec"]["tls"].append(
        {"secretName": "default"}
    )  # no hosts: the controller's default host set
    assert check_ingress("kubernetes:networking.k8s.io/v1:Ingress", props(spec), f) == []
    f.settle()


# --- through the pack ---------------------------------------------------------------------------------------

AZURE_IPSEC = {
    "ikeEncryption": "AES256",
    "ikeIntegrity": "SHA384",
    "dhGroup": "ECP384",
    "ipsecEncryption": "GCMAES256",
    "ipsecIntegrity": "GCMAES256",
    "pfsGroup": "ECP384",
    "saDataSizeKilobytes": 102400000,
    "saLifeTimeSeconds": 27000,
}
K8S_META = {"name": "x", "namespace": "ml", "labels": K8S_LABELS}


def gateway(name: str, protocols: list[str]) -> dict:
    return rec(
        "kubernetes:gateway.networking.k8s.io/v1:Gateway",
        name,
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": K8S_META,
            "spec": {
                "gatewayClassName": "istio",
                "listeners": [
                    {"name": f"l{i}", "port": 443, "protocol": p} for i, p in enumerate(protocols)
                ],
            },
        },
        provider=K8S,
    )


def kafka(name: str, tls: list[object], version: str = "v1beta2") -> dict:
    return rec(
        f"kubernetes:kafka.strimzi.io/{version}:Kafka",
        name,
        {
            "apiVersion": f"kafka.strimzi.io/{version}",
            "kind": "Kafka",
            "metadata": K8S_META,
            "spec": {
                "kafka": {
                    "replicas": 3,
                    "listeners": [
                        {"name": f"l{i}", "port": 9093 + i, "type": "internal", "tls": t}
                        for i, t in enumerate(tls)
                    ],
                }
            },
        },
        provider=K8S,
    )


def storage_account(name: str, **inputs: object) -> dict:
    return rec(
        "azure-native:storage:StorageAccount",
        name,
        {"location": "westeurope", "tags": TAGS, **inputs},
        provider=AZURE_EU,
    )


CASES: list[Case] = [
    case("s3-bucket-secure-transport", "deny-insecure-transport", "pass", s3_bucket("tls-ok")),
    case(
        "s3-bucket-secure-transport",
        "no-bucket-policy",
        "fail",
        s3_bucket("tls-none", policy=None),
        message="aws:SecureTransport=false",
    ),
    case(
        "s3-bucket-secure-transport",
        "policy-without-tls-deny",
        "fail",
        s3_bucket(
            "tls-weak",
            policy=_policy({**DENY, "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}}),
        ),
    ),
    case(
        "s3-bucket-secure-transport",
        "policy-unknown",
        "undecided",
        s3_bucket("tls-unk", policy="[unknown]"),
    ),
    case(
        "azure-storage-secure-transport",
        "tls12-https-default",
        "pass",
        [storage_account("sa-tls12", minimumTlsVersion="TLS1_2")],
    ),
    case(
        "azure-storage-secure-transport",
        "tls-default",
        "fail",
        [storage_account("sa-tls10")],
        message="minimumTlsVersion",
    ),
    case(
        "azure-storage-secure-transport",
        "http-allowed",
        "fail",
        [storage_account("sa-http", minimumTlsVersion="TLS1_2", enableHttpsTrafficOnly=False)],
        message="enableHttpsTrafficOnly",
    ),
    case(
        "vpn-strong-crypto",
        "aws-strong",
        "pass",
        [rec("aws:ec2/vpnConnection:VpnConnection", "vpn-ok", aws_vpn(), provider=AWS_EU)],
    ),
    case(
        "vpn-strong-crypto",
        "aws-defaults",
        "fail",
        [
            rec(
                "aws:ec2/vpnConnection:VpnConnection",
                "vpn-default",
                {"customerGatewayId": "[unknown]", "type": "ipsec.1", "tags": TAGS},
                provider=AWS_EU,
            )
        ],
        message="tunnel1IkeVersions is not set",
    ),
    case(
        "vpn-strong-crypto",
        "gcp-ikev2",
        "pass",
        [
            rec(
                "gcp:compute/vPNTunnel:VPNTunnel",
                "gvpn-ok",
                {"ikeVersion": 2, "sharedSecret": "[secret]", "region": "europe-west4",
                 "cipherSuite": GCP_SUITE},
                provider=GCP_EU,
            )
        ],
    ),
    case(
        "vpn-strong-crypto",
        "gcp-default-ciphers",
        "fail",
        [
            rec(
                "gcp:compute/vPNTunnel:VPNTunnel",
                "gvpn-default",
                {"ikeVersion": 2, "sharedSecret": "[secret]", "region": "europe-west4"},
                provider=GCP_EU,
            )
        ],
        message="cipherSuite is not set",
    ),
    case(
        "vpn-strong-crypto",
        "gcp-ikev1",
        "fail",
        [
            rec(
                "gcp:compute/vPNTunnel:VPNTunnel",
                "gvpn-v1",
                {"ikeVersion": 1, "sharedSecret": "[secret]", "region": "europe-west4"},
                provider=GCP_EU,
            )
        ],
    ),
    case(
        "vpn-strong-crypto",
        "azure-ikev2-strong",
        "pass",
        [
            rec(
                "azure-native:network:VirtualNetworkGatewayConnection",
                "avpn-ok",
                {
                    "location": "westeurope",
                    "tags": TAGS,
                    "connectionType": "IPsec",
                    "connectionProtocol": "IKEv2",
                    "ipsecPolicies": [AZURE_IPSEC],
                },
                provider=AZURE_EU,
            )
        ],
    ),
    case(
        "vpn-strong-crypto",
        "azure-ikev1-weak",
        "fail",
        [
            rec(
                "azure-native:network:VirtualNetworkGatewayConnection",
                "avpn-weak",
                {
                    "location": "westeurope",
                    "tags": TAGS,
                    "connectionType": "IPsec",
                    "connectionProtocol": "IKEv1",
                    "ipsecPolicies": [
                        {**AZURE_IPSEC, "dhGroup": "DHGroup2", "ipsecEncryption": "AES128"}
                    ],
                },
                provider=AZURE_EU,
            )
        ],
        message="dhGroup",
    ),
    case("kafka-listener-tls", "all-tls", "pass", [kafka("kafka-ok", [True, True])]),
    case("kafka-listener-tls", "v1-all-tls", "pass", [kafka("kafka-v1-ok", [True], version="v1")]),
    case(
        "kafka-listener-tls",
        "plain-listener",
        "fail",
        [kafka("kafka-plain", [True, False])],
        message="listener l1",
    ),
    case(
        "ingress-tls",
        "ingress-with-tls",
        "pass",
        [
            rec(
                "kubernetes:networking.k8s.io/v1:Ingress",
                "ing-ok",
                {
                    "metadata": K8S_META,
                    "spec": {
                        "tls": [{"hosts": ["ml.example.com"], "secretName": "c"}],
                        "rules": [{"host": "ml.example.com"}],
                    },
                },
                provider=K8S,
            )
        ],
    ),
    case(
        "ingress-tls",
        "ingress-plain-http",
        "fail",
        [
            rec(
                "kubernetes:networking.k8s.io/v1:Ingress",
                "ing-http",
                {"metadata": K8S_META, "spec": {"rules": [{"host": "ml.example.com"}]}},
                provider=K8S,
            )
        ],
        message="spec.tls is empty",
    ),
    case("ingress-tls", "gateway-https", "pass", [gateway("gw-ok", ["HTTPS", "TLS"])]),
    case(
        "ingress-tls",
        "gateway-http",
        "fail",
        [gateway("gw-http", ["HTTPS", "HTTP"])],
        message="'HTTP'",
    ),
]


@pytest.fixture(scope="module")
def result():
    return run_cases(CASES)


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_policy_through_the_pack(c: Case, result) -> None:
    assert_case(c, result)
