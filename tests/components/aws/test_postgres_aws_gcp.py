"""Managed PostgreSQL on AWS (RDS) and GCP (Cloud SQL) under the SDK mocks: private, encrypted
with the component's own key, TLS-only, backed up, protected only when asked, the generated
password a secret everywhere, and clean under the policy pack."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_random as random
import pytest
from pydantic import ValidationError

from components.aws import postgres as rds
from components.gcp import postgres as cloudsql
from components.tags import StandardTags
from stacks.preview.analyzer_client import run_policy_pack
from tests.conftest import CANARY, ROOT, canary_mocks, component_plan, resources_of

TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="confidential")
ACCOUNT, AWS_REGION = "123456789012", "eu-west-1"
SUBNETS = ["subnet-0a", "subnet-0b", "subnet-0c"]
CLIENTS = ("10.20.0.0/16", "10.0.0.0/14")
PROJECT, NUMBER, GCP_REGION = "hml-prod-gke", "987654321098", "europe-west4"
NETWORK = f"projects/{PROJECT}/global/networks/hml-prod-vpc"

T_RDS, T_SG = "aws:rds/instance:Instance", "aws:ec2/securityGroup:SecurityGroup"
T_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
T_SQL, T_GRANT = "gcp:sql/databaseInstance:DatabaseInstance", "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
T_PASSWORD = "random:index/randomPassword:RandomPassword"


def _aws_args(**over: Any) -> rds.PostgresDatabaseArgs:
    fields: dict[str, Any] = {
        "name": "mlflow", "prefix": "hml-prod", "tags": TAGS, "protect": True,
        "high_availability": True, "backup_retention_days": 14, "storage_gb": 50,
        "region": AWS_REGION, "account_id": ACCOUNT, "vpc_id": "vpc-0123", "subnet_ids": SUBNETS,
        "client_cidrs": CLIENTS}
    return rds.PostgresDatabaseArgs(**{**fields, **over})


def _gcp_args(**over: Any) -> cloudsql.PostgresDatabaseArgs:
    fields: dict[str, Any] = {
        "name": "mlflow", "prefix": "hml-prod", "tags": TAGS, "protect": True,
        "high_availability": True, "backup_retention_days": 14, "storage_gb": 50,
        "project": PROJECT, "project_number": NUMBER, "region": GCP_REGION,
        "network_id": NETWORK, "allocated_ip_range": "hml-prod-psa-europe-west4"}
    return cloudsql.PostgresDatabaseArgs(**{**fields, **over})


def _program(cloud: str, args: Any, seen: list[str] | None = None):
    def program() -> None:
        rnd = random.Provider("random")
        if cloud == "aws":
            provider = aws.Provider(f"aws-{AWS_REGION}", region=AWS_REGION)
            db = rds.PostgresDatabase("mlflow-db", args, pulumi.ResourceOptions(providers=[provider, rnd]))
        else:
            provider = gcp.Provider(f"gcp-{GCP_REGION}", project=PROJECT, region=GCP_REGION)
            # As the caller does: Cloud SQL's private IP needs the VPC's Private Service Access.
            psa = gcp.servicenetworking.Connection(
                "psa", network=NETWORK, service="servicenetworking.googleapis.com",
                reserved_peering_ranges=["hml-prod-psa"],
                opts=pulumi.ResourceOptions(provider=provider))
            db = cloudsql.PostgresDatabase("mlflow-db", args, pulumi.ResourceOptions(
                providers=[provider, rnd], depends_on=[psa]))
        pulumi.export("password", db.password)
        pulumi.export("uri", pulumi.Output.format(
            "postgresql://{0}:{1}@{2}:{3}/{4}?sslmode={5}", db.username, db.password, db.host,
            db.port, db.database, db.sslmode))
        if seen is not None:
            db.password.apply(seen.append)
    return program


def _one(plan: dict, type_: str) -> dict:
    [res] = resources_of(plan, type_)
    return res


def _by_name(plan: dict) -> dict[str, dict]:
    return {r["name"]: r for r in plan["resources"]}


@pytest.fixture(scope="module")
def aws_prod() -> dict:
    return component_plan(_program("aws", _aws_args()))


@pytest.fixture(scope="module")
def aws_dev() -> dict:
    return component_plan(_program("aws", _aws_args(protect=False, high_availability=False)))


@pytest.fixture(scope="module")
def gcp_prod() -> dict:
    return component_plan(_program("gcp", _gcp_args()))


@pytest.fixture(scope="module")
def gcp_dev() -> dict:
    return component_plan(_program("gcp", _gcp_args(protect=False, high_availability=False)))


# --- RDS -----------------------------------------------------------------------------------------

def test_rds_is_private_and_encrypted_with_its_own_rotating_key(aws_prod):
    db = _one(aws_prod, T_RDS)
    key = _one(aws_prod, "aws:kms/key:Key")
    inputs = db["inputs"]
    assert inputs["publiclyAccessible"] is False
    assert inputs["storageEncrypted"] is True
    # The key ARN is unknown at preview; it must come from the component's own key.
    assert db["propertyDependencies"]["kmsKeyId"] == [key["urn"]]
    assert db["propertyDependencies"]["performanceInsightsKmsKeyId"] == [key["urn"]]
    assert inputs["performanceInsightsEnabled"] is True
    assert key["inputs"]["enableKeyRotation"] is True
    assert key["parent"] == _one(aws_prod, "hybridml:aws:PostgresDatabase")["urn"]
    group = _one(aws_prod, "aws:rds/subnetGroup:SubnetGroup")
    assert group["inputs"]["subnetIds"] == SUBNETS
    assert inputs["dbSubnetGroupName"] == group["inputs"]["name"]


def test_rds_forces_tls_and_logs_into_its_own_encrypted_group(aws_prod):
    db = _one(aws_prod, T_RDS)["inputs"]
    params = _one(aws_prod, "aws:rds/parameterGroup:ParameterGroup")["inputs"]
    assert params["family"] == f"postgres{rds.POSTGRES_MAJOR}"
    values = {p["name"]: p["value"] for p in params["parameters"]}
    assert values["rds.force_ssl"] == "1"
    assert values["ssl_min_protocol_version"] == "TLSv1.2"
    assert db["parameterGroupName"] == params["name"]
    assert (db["engine"], db["engineVersion"], db["autoMinorVersionUpgrade"]) == (
        "postgres", "17", True)
    assert db["enabledCloudwatchLogsExports"] == ["postgresql"]
    logs = _one(aws_prod, "aws:cloudwatch/logGroup:LogGroup")
    assert logs["inputs"]["name"] == f"/aws/rds/instance/{db['identifier']}/postgresql"
    assert logs["propertyDependencies"]["kmsKeyId"] == [_one(aws_prod, "aws:kms/key:Key")["urn"]]
    assert logs["urn"] in _one(aws_prod, T_RDS)["dependencies"]
    assert (db["storageType"], db["allocatedStorage"], db["maxAllocatedStorage"]) == ("gp3", 50, 200)


def test_rds_protection_backups_and_ha_follow_the_args(aws_prod, aws_dev):
    prod, dev = _one(aws_prod, T_RDS), _one(aws_dev, T_RDS)
    assert prod["protect"] is True and prod["inputs"]["deletionProtection"] is True
    assert prod["inputs"]["skipFinalSnapshot"] is False
    # Unique per instance generation: a random suffix made with the instance (and its key), so
    # deleting a recreated instance never collides with an earlier final snapshot.
    suffix = _one(aws_prod, "random:index/randomId:RandomId")
    assert prod["propertyDependencies"]["finalSnapshotIdentifier"] == [suffix["urn"]]
    assert suffix["inputs"]["byteLength"] == 4
    assert suffix["inputs"]["keepers"]["identifier"] == "hml-prod-mlflow"
    assert suffix["propertyDependencies"]["keepers"] == [_one(aws_prod, "aws:kms/key:Key")["urn"]]
    assert prod["inputs"]["deleteAutomatedBackups"] is False
    assert prod["inputs"]["multiAz"] is True
    assert _one(aws_prod, "aws:kms/key:Key")["protect"] is True
    assert dev["protect"] is False and dev["inputs"]["deletionProtection"] is False
    assert dev["inputs"]["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in dev["inputs"]
    assert resources_of(aws_dev, "random:index/randomId:RandomId") == []
    assert dev["inputs"]["multiAz"] is False
    assert _one(aws_dev, "aws:kms/key:Key")["protect"] is False
    for plan in (aws_prod, aws_dev):
        inputs = _one(plan, T_RDS)["inputs"]
        assert inputs["backupRetentionPeriod"] == 14 and inputs["copyTagsToSnapshot"] is True


def test_security_group_admits_5432_from_the_client_ranges_only(aws_prod):
    sg = _one(aws_prod, T_SG)
    # Nothing inline (the provider then removes AWS's default allow-all egress) and no egress rules.
    assert "ingress" not in sg["inputs"] and "egress" not in sg["inputs"]
    assert resources_of(aws_prod, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule") == []
    assert resources_of(aws_prod, "aws:ec2/securityGroupRule:SecurityGroupRule") == []
    rules = [r["inputs"] for r in resources_of(aws_prod, T_INGRESS)]
    assert sorted(r["cidrIpv4"] for r in rules) == sorted(CLIENTS)
    assert all((r["ipProtocol"], r["fromPort"], r["toPort"]) == ("tcp", 5432, 5432) for r in rules)
    db = _one(aws_prod, T_RDS)
    assert db["propertyDependencies"]["vpcSecurityGroupIds"] == [sg["urn"]]


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "52.94.0.0/16", "10.0.0.1/8", "fd00::/8",
                                  "100.0.0.0/8"])
def test_client_ranges_must_be_private_ipv4_networks(cidr):
    with pytest.raises(ValidationError, match="client_cidrs|private|host bits"):
        _aws_args(client_cidrs=(cidr,))


def test_client_ranges_may_be_the_shared_address_space():
    # 100.64.0.0/10 is not RFC 1918 but not public either; the network config allows VPCs there.
    assert _aws_args(client_cidrs=("100.64.0.0/18",)).client_cidrs == ("100.64.0.0/18",)


@pytest.mark.parametrize("over", [
    {"username": "postgres"}, {"username": "rdsadmin"}, {"backup_retention_days": 36},
    {"backup_retention_days": 0}, {"storage_gb": 10}, {"region": "eu-west-9"},
    {"max_storage_gb": 50}, {"log_retention_days": 31}, {"database": "ml-flow"},
    {"subnet_ids": ["subnet-0a"]},
])
def test_rds_args_refuse_what_rds_would_refuse(over):
    with pytest.raises(ValidationError):
        _aws_args(**over)


# --- Cloud SQL -----------------------------------------------------------------------------------

def test_cloud_sql_has_only_a_private_tls_only_address(gcp_prod):
    ip = _one(gcp_prod, T_SQL)["inputs"]["settings"]["ipConfiguration"]
    assert ip["ipv4Enabled"] is False
    assert ip["privateNetwork"] == NETWORK
    assert ip["sslMode"] == "ENCRYPTED_ONLY"
    assert "authorizedNetworks" not in ip
    # The caller's dependency reaches the instance itself (also orders the destroy), and the
    # Cloud SQL agent (created only once the APIs the caller depends on are enabled).
    assert _by_name(gcp_prod)["psa"]["urn"] in _one(gcp_prod, T_SQL)["dependencies"]
    assert _by_name(gcp_prod)["psa"]["urn"] in _by_name(gcp_prod)["mlflow-db-sql-agent"]["dependencies"]
    # The address comes from the range the caller names (its region's own).
    assert ip["allocatedIpRange"] == "hml-prod-psa-europe-west4"
    assert "allocatedIpRange" not in _one(component_plan(_program("gcp", _gcp_args(
        allocated_ip_range=None))), T_SQL)["inputs"]["settings"]["ipConfiguration"]


def test_cloud_sql_uses_its_cmek_only_after_the_agent_may(gcp_prod):
    by = _by_name(gcp_prod)
    sql, grant, key = by["mlflow-db-instance"], by["mlflow-db-key-sql-agent"], by["mlflow-db-key"]
    agent = by["mlflow-db-sql-agent"]
    # The member is the agent resource's own `member` output (serviceAccount:<its email>).
    assert grant["propertyDependencies"]["member"] == [agent["urn"]]
    assert cloudsql.sql_service_agent(NUMBER) == f"service-{NUMBER}@gcp-sa-cloud-sql.iam.gserviceaccount.com"
    assert grant["inputs"]["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert grant["propertyDependencies"]["cryptoKeyId"] == [key["urn"]]
    assert agent["type"] == "gcp:projects/serviceIdentity:ServiceIdentity"
    assert agent["inputs"]["service"] == "sqladmin.googleapis.com"
    assert agent["urn"] in grant["dependencies"]
    # The instance takes the key name from the grant: the engine creates the grant first.
    assert sql["propertyDependencies"]["encryptionKeyName"] == [grant["urn"]]
    assert grant["urn"] in sql["dependencies"]
    assert key["inputs"]["rotationPeriod"] == "7776000s"
    assert by["mlflow-db-keyring"]["inputs"]["location"] == GCP_REGION
    assert sql["inputs"]["region"] == GCP_REGION


def test_cloud_sql_backups_and_point_in_time_recovery(gcp_prod):
    settings = _one(gcp_prod, T_SQL)["inputs"]["settings"]
    backups = settings["backupConfiguration"]
    assert backups["enabled"] is True and backups["pointInTimeRecoveryEnabled"] is True
    assert backups["backupRetentionSettings"] == {"retainedBackups": 14, "retentionUnit": "COUNT"}
    assert backups["transactionLogRetentionDays"] == 7
    assert (settings["edition"], settings["tier"]) == ("ENTERPRISE", "db-custom-2-7680")
    assert _one(gcp_prod, T_SQL)["inputs"]["databaseVersion"] == "POSTGRES_17"


@pytest.mark.parametrize("retained,log_days", [(2, 1), (7, 6), (8, 7), (35, 7)])
def test_point_in_time_log_stays_within_what_cloud_sql_accepts(retained, log_days):
    # Enterprise edition: 1-7 days of log, and fewer than the retained backups.
    assert cloudsql.transaction_log_days(retained) == log_days


def test_cloud_sql_protection_and_ha_follow_the_args(gcp_prod, gcp_dev):
    prod, dev = _one(gcp_prod, T_SQL), _one(gcp_dev, T_SQL)
    assert prod["protect"] is True and prod["inputs"]["deletionProtection"] is True
    assert prod["inputs"]["settings"]["deletionProtectionEnabled"] is True
    assert prod["inputs"]["settings"]["retainBackupsOnDelete"] is True
    assert prod["inputs"]["settings"]["availabilityType"] == "REGIONAL"
    assert dev["protect"] is False and dev["inputs"]["deletionProtection"] is False
    assert dev["inputs"]["settings"]["deletionProtectionEnabled"] is False
    assert dev["inputs"]["settings"]["availabilityType"] == "ZONAL"
    for plan, protected in ((gcp_prod, True), (gcp_dev, False)):
        by = _by_name(plan)
        assert [by[n]["protect"] for n in ("mlflow-db-key", "mlflow-db-keyring",
                                           "mlflow-db-database")] == [protected] * 3


def test_cloud_sql_database_and_built_in_login(gcp_prod):
    by = _by_name(gcp_prod)
    assert by["mlflow-db-database"]["inputs"]["name"] == "mlflow"
    user = by["mlflow-db-user"]["inputs"]
    assert (user["name"], user["type"], user["password"]) == ("mlflow", "BUILT_IN", "[secret]")
    assert user["instance"] == by["mlflow-db-instance"]["inputs"]["name"]


@pytest.mark.parametrize("over", [
    {"username": "cloudsqlsuperuser"}, {"tier": "db-perf-optimized-N-2"}, {"region": "mars1"},
    {"backup_retention_days": 40}, {"backup_retention_days": 1}, {"project_number": "hml"},
    {"name": "MLflow"}, {"allocated_ip_range": "PSA range"},
])
def test_cloud_sql_args_refuse_what_cloud_sql_would_refuse(over):
    with pytest.raises(ValidationError):
        _gcp_args(**over)


# --- Both: the password and the policy pack -------------------------------------------------------

@pytest.mark.parametrize("cloud,args,field", [
    ("aws", _aws_args(), (T_RDS, "password")),
    ("gcp", _gcp_args(), ("gcp:sql/user:User", "password")),
])
def test_generated_password_is_a_secret_everywhere(cloud, args, field):
    seen: list[str] = []
    plan = component_plan(_program(cloud, args, seen), resource_mocks=canary_mocks())
    # The canary made the password known, so the checks below are not vacuous.
    assert len(seen) == 1 and seen[0].startswith(CANARY)
    [gen] = resources_of(plan, T_PASSWORD)
    assert gen["inputs"]["length"] >= 32 and gen["inputs"]["special"] is False
    type_, name = field
    assert _one(plan, type_)["inputs"][name] == "[secret]"
    assert plan["outputs"] == {"password": "[secret]", "uri": "[secret]"}
    assert CANARY not in json.dumps(plan)


@pytest.mark.parametrize("fixture", ["aws_prod", "gcp_prod"])
def test_policy_pack_finds_nothing_in_prod(fixture, request):
    plan = request.getfixturevalue(fixture)
    cfg = json.loads((ROOT / "policies/config.prod.json").read_text())
    res = run_policy_pack(ROOT / "policies", plan["resources"], cfg, analyze_all_resources=True)
    assert [(d.policy_name, d.message) for d in res.diagnostics] == []
    assert [(u.policy_name, u.urn) for u in res.undecided] == []


def test_policy_pack_does_judge_these_resources(aws_dev, gcp_dev):
    # The same components unprotected, judged as prod: the pack names the database and keys.
    cfg = json.loads((ROOT / "policies/config.prod.json").read_text())
    flagged = set()
    for plan in (aws_dev, gcp_dev):
        res = run_policy_pack(ROOT / "policies", plan["resources"], cfg, analyze_all_resources=True)
        flagged |= {(d.policy_name, d.urn.rsplit("::", 1)[-1]) for d in res.diagnostics if d.urn}
    assert {("stateful-resources-protected", "mlflow-db-instance"),
            ("stateful-resources-protected", "mlflow-db-key"),
            ("stateful-resources-protected", "mlflow-db-keyring")} <= flagged
