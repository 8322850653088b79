"""Every rule of the pack, through the real Analyzer interface, with a compliant and a non-compliant case.

Cases start from real resources of the staging (or production) run and break one thing, so a rule
that stops matching the platform's resources, or stops catching the mistake, fails here.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from platform_policies import RULES
from platform_policies.framework import Stack

from tests.conftest import stack_run
from tests.policies.seen import as_seen, reads_of
from tools.mock_runtime import RecordedResource
from tools.policy_eval import UNKNOWN, PolicyPackServer, Violation

Resources = list[RecordedResource]
Change = Callable[[Resources], None]


@dataclass(frozen=True)
class Case:
    rule: str
    names: tuple[str, ...]
    bad: Change
    good: Change | None = None
    stack: str = "stg"
    config: dict[str, Any] = field(default_factory=dict)
    label: str = ""


def pick(stack: str, names: tuple[str, ...]) -> Resources:
    """Copies of the named resources of a stack run, with the providers they use."""
    run = stack_run(stack)
    chosen = [copy.deepcopy(run.named(name)) for name in names]
    provider_urns = {r.provider.rsplit("::", 1)[0] for r in chosen if r.provider}
    providers = [copy.deepcopy(r) for r in run.resources if r.urn in provider_urns]
    return providers + chosen


def named(resources: Resources, name: str) -> RecordedResource:
    return next(r for r in resources if r.name == name)


def set_input(name: str, key: str, value: Any) -> Change:
    def change(resources: Resources) -> None:
        named(resources, name).inputs[key] = value

    return change


def drop_input(name: str, key: str) -> Change:
    def change(resources: Resources) -> None:
        named(resources, name).inputs.pop(key, None)

    return change


def drop(name: str) -> Change:
    def change(resources: Resources) -> None:
        resources.remove(named(resources, name))

    return change


INTERNAL_ROUTE = (
    "admin-route",
    "admin-targets",
    "cluster-internal-alb-https",
    "cluster-internal-alb",
    "cluster-https",
    "cluster-alb",
)
"""The back office's route and both load balancers it could be on."""


def route_on(route: str, listener: str) -> Change:
    """The route moved onto another listener, by ARN and by dependency, as the engine would record it."""

    def change(resources: Resources) -> None:
        moved, target = named(resources, route), named(resources, listener)
        moved.inputs["listenerArn"] = f"arn:aws:elasticloadbalancing:ap-northeast-1:210987654321:listener/{listener}"
        moved.property_dependencies["listenerArn"] = [target.urn]

    return change


def redrive_as_its_own_resource(*, dead_letter: bool = True) -> Change:
    """The queue's redrive policy moved into an `aws.sqs.RedrivePolicy` (pulumi-aws's standalone form)."""

    def change(resources: Resources) -> None:
        queue = named(resources, "mail-queue")
        redrive = copy.deepcopy(queue)
        document = json.loads(queue.inputs.pop("redrivePolicy"))
        if not dead_letter:
            document.pop("deadLetterTargetArn")
        redrive.type, redrive.name = "aws:sqs/redrivePolicy:RedrivePolicy", "mail-queue-redrive"
        redrive.urn = queue.urn.replace(
            "aws:sqs/queue:Queue::mail-queue", "aws:sqs/redrivePolicy:RedrivePolicy::mail-queue-redrive"
        )
        redrive.inputs = {
            "queueUrl": "https://sqs.us-east-1.amazonaws.com/210987654321/mail",
            "redrivePolicy": json.dumps(document),
        }
        redrive.property_dependencies = {"queueUrl": [queue.urn]}
        resources.append(redrive)

    return change


def exec_logging(**changes: Any) -> Change:
    def change(resources: Resources) -> None:
        exec_config = named(resources, "cluster-cluster").inputs["configuration"]["executeCommandConfiguration"]
        exec_config["logConfiguration"].update(changes)

    return change


def invoked_by(principal: str, source_arn: str) -> Change:
    def change(resources: Resources) -> None:
        permission = named(resources, "mail-status-invoke")
        permission.inputs.update(principal=principal, sourceArn=source_arn)
        permission.inputs.pop("sourceAccount", None)

    return change


def edit_json(name: str, key: str, edit: Callable[[Any], None]) -> Change:
    def change(resources: Resources) -> None:
        resource = named(resources, name)
        document = json.loads(resource.inputs[key])
        edit(document)
        resource.inputs[key] = json.dumps(document)

    return change


def derived(source: str, type_: str, name: str, **inputs: Any) -> Change:
    """A resource of a type the stacks do not use, made from one they do (same parent, provider and
    stack), as a developer adding it beside `source` would."""

    def change(resources: Resources) -> None:
        origin = named(resources, source)
        made = copy.deepcopy(origin)
        made.type, made.name, made.inputs, made.property_dependencies = type_, name, dict(inputs), {}
        made.urn = f"{origin.urn.rsplit('$', 1)[0]}${type_}::{name}"
        resources.append(made)

    return change


def policy(principal: Any, action: str, **condition: Any) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*"}
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{**statement, **({"Condition": condition} if condition else {})}]}
    )


ACCOUNT_ROOT = {"AWS": "arn:aws:iam::210987654321:root"}
ECR_POLICY, SECRET_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy", "aws:secretsmanager/secretPolicy:SecretPolicy"
LOG_POLICY, KEY_POLICY = "aws:cloudwatch/logResourcePolicy:LogResourcePolicy", "aws:kms/keyPolicy:KeyPolicy"
BUCKET_ACL, FUNCTION_URL = "aws:s3/bucketAcl:BucketAcl", "aws:lambda/functionUrl:FunctionUrl"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def standalone_key_policy(document: str) -> Change:
    """The app key's policy moved to an `aws.kms.KeyPolicy` that refers to the key (as an unknown id would)."""

    def change(resources: Resources) -> None:
        named(resources, "app-key").inputs.pop("policy")
        derived("app-key", KEY_POLICY, "app-key-policy", keyId="k", policy=document)(resources)
        named(resources, "app-key-policy").property_dependencies = {"keyId": [named(resources, "app-key").urn]}

    return change


def standalone_endpoint_policy(document: str) -> Change:
    def change(resources: Resources) -> None:
        named(resources, "network-endpoint-s3").inputs.pop("policy")
        derived("network-endpoint-s3", ENDPOINT_POLICY, "s3-endpoint-policy", vpcEndpointId="e", policy=document)(
            resources
        )
        named(resources, "s3-endpoint-policy").property_dependencies = {
            "vpcEndpointId": [named(resources, "network-endpoint-s3").urn]
        }

    return change


ENDPOINT_POLICY = "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy"
OUR_PRINCIPALS = {"StringEquals": {"aws:PrincipalAccount": "210987654321"}}
OUR_RESOURCES = {"StringEquals": {"aws:PrincipalAccount": "210987654321", "aws:ResourceAccount": "210987654321"}}
APP_ROUTE = "network-route-app-ap-northeast-1a-firewall"


def app_route_to_nat(resources: Resources) -> None:
    route = named(resources, APP_ROUTE)
    route.inputs.pop("vpcEndpointId")
    route.inputs["natGatewayId"] = "network-nat-ap-northeast-1a-id"


VIA_RDS = {"StringEquals": {"kms:ViaService": "rds.ap-northeast-1.amazonaws.com"}}


def protect(name: str, value: bool) -> Change:
    def change(resources: Resources) -> None:
        named(resources, name).protect = value

    return change


def each_container(edit: Callable[[dict[str, Any]], None]) -> Callable[[Any], None]:
    def apply(containers: list[dict[str, Any]]) -> None:
        for container in containers:
            edit(container)

    return apply


def github_role(subject: str, *, name: str = "deploy-prd", operator: str = "StringEquals") -> Change:
    def change(resources: Resources) -> None:
        role = named(resources, "api-task-role")
        conditions: dict[str, dict[str, str]] = {
            "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
        }
        conditions.setdefault(operator, {})["token.actions.githubusercontent.com:sub"] = subject
        role.name = name
        role.inputs["name"] = f"platform-prd-{name}"
        role.inputs["assumeRolePolicy"] = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Principal": {"Federated": "arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com"},
                        "Condition": conditions,
                    }
                ],
            }
        )

    return change


ALB, BUCKET = "cluster-alb", "mail-bucket"
CASES = [
    Case("s3-public-access-block", (BUCKET, "mail-bucket-public-access"), drop("mail-bucket-public-access")),
    Case("s3-public-access-block", (BUCKET, "mail-bucket-public-access"), set_input("mail-bucket-public-access", "blockPublicPolicy", False), label="flag-off"),
    Case("s3-tls-only", (BUCKET, "mail-bucket-policy"), drop("mail-bucket-policy")),
    Case("s3-encryption", (BUCKET, "mail-bucket-encryption"), drop("mail-bucket-encryption")),
    Case("s3-encryption", ("cluster-alb-logs", "cluster-alb-logs-encryption", ALB), drop(ALB), label="sse-s3-only-for-log-targets"),
    Case("s3-versioning", (BUCKET, "mail-bucket-versioning"), drop("mail-bucket-versioning")),
    Case("s3-acls-disabled", (BUCKET, "mail-bucket-ownership"), drop("mail-bucket-ownership")),
    Case("s3-no-public-acl", (BUCKET,), derived(BUCKET, BUCKET_ACL, "mail-bucket-acl", bucket="platform-stg-inbox", acl="public-read"), good=derived(BUCKET, BUCKET_ACL, "mail-bucket-acl", bucket="platform-stg-inbox", acl="private")),
    Case("s3-no-public-acl", (BUCKET,), derived(BUCKET, BUCKET_ACL, "mail-bucket-acl", bucket="platform-stg-inbox", accessControlPolicy={"owner": {"id": "o"}, "grants": [{"permission": "READ", "grantee": {"type": "Group", "uri": ALL_USERS}}]}), label="granted-to-all-users"),
    Case("s3-no-public-acl", (BUCKET,), set_input(BUCKET, "grants", [{"type": "Group", "uri": ALL_USERS, "permissions": ["READ"]}]), label="the-buckets-own-grants"),
    Case("s3-lifecycle", (BUCKET, "mail-bucket-lifecycle"), drop("mail-bucket-lifecycle")),
    Case("s3-access-logging", (BUCKET, "mail-bucket-logging", "mail-access-logs"), drop("mail-bucket-logging")),
    Case("s3-policy-not-public", ("cluster-alb-logs-policy",), edit_json("cluster-alb-logs-policy", "policy", lambda d: d["Statement"].append({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}))),
    Case("rds-storage-encrypted", ("app-instance",), set_input("app-instance", "storageEncrypted", False)),
    Case("rds-not-public", ("app-instance",), set_input("app-instance", "publiclyAccessible", True)),
    Case("rds-backups", ("app-instance",), set_input("app-instance", "backupRetentionPeriod", 0)),
    Case("rds-deletion-protection", ("card-instance",), set_input("card-instance", "deletionProtection", False), stack="prd"),
    Case("rds-multi-az", ("card-instance",), set_input("card-instance", "multiAz", False), stack="prd"),
    Case("rds-hardening", ("app-instance",), set_input("app-instance", "iamDatabaseAuthenticationEnabled", False)),
    Case("rds-hardening", ("app-instance",), set_input("app-instance", "caCertIdentifier", "rds-ca-2019"), label="old-ca"),
    Case("rds-managed-credentials", ("app-instance",), set_input("app-instance", "username", "postgres")),
    Case("rds-non-default-port", ("app-instance",), set_input("app-instance", "port", 5432), good=set_input("app-instance", "port", 6432)),
    Case("rds-force-ssl", ("app-instance", "app-params"), set_input("app-params", "parameters", [{"name": "log_connections", "value": "1"}])),
    Case("postgres-provider-tls", ("app-pg-role-api",), set_input("app-pg-provider", "sslmode", "disable")),
    Case("postgres-provider-tls", ("app-pg-role-api",), set_input("app-pg-provider", "superuser", "true"), label="superuser"),
    Case("postgres-role-least-privilege", ("app-pg-role-api",), set_input("app-pg-role-api", "createRole", True)),
    Case("elb-internal-apps-private", INTERNAL_ROUTE, route_on("admin-route", "cluster-https")),
    Case("elb-internal-apps-private", INTERNAL_ROUTE, lambda rs: named(rs, "admin-route").property_dependencies.update(listenerArn=[]), label="untraceable-listener"),
    Case("elb-internal-apps-private", INTERNAL_ROUTE, set_input("cluster-internal-alb", "internal", False), label="load-balancer-made-public"),
    Case("elb-web-firewall", ("cluster-alb", "web-firewall-acl", "web-firewall-association", "web-firewall-logging"), drop("web-firewall-association")),
    Case("elb-web-firewall", ("cluster-alb", "web-firewall-acl", "web-firewall-association", "web-firewall-logging"), drop("web-firewall-logging"), label="not-logged"),
    Case("elb-web-firewall", ("cluster-alb", "web-firewall-acl", "web-firewall-association", "web-firewall-logging"), lambda rs: named(rs, "web-firewall-acl").inputs.update(rules=named(rs, "web-firewall-acl").inputs["rules"][1:]), label="no-common-rule-set"),
    Case("postgres-password-verifier", ("app-pg-role-api",), set_input("app-pg-role-api", "password", "Cleartext0Password")),
    Case("postgres-password-verifier", ("app-pg-role-api",), lambda rs: named(rs, "app-pg-role-api").inputs.update(password=None, passwordWo="Cleartext0Password", passwordWoVersion="1"), label="write-only-cleartext"),
    Case("rds-logs-no-parameter-values", ("app-params",), lambda rs: named(rs, "app-params").inputs.update(parameters=[p for p in named(rs, "app-params").inputs["parameters"] if p["name"] != "log_parameter_max_length_on_error"])),
    Case("rds-log-groups-declared", ("app-instance", "app-postgresql-logs", "app-upgrade-logs"), drop("app-upgrade-logs")),
    Case("rds-log-groups-declared", ("app-instance", "app-postgresql-logs", "app-upgrade-logs"), lambda rs: named(rs, "app-instance").dependencies.clear(), label="not-before-the-instance"),
    Case("rds-log-groups-declared", ("app-instance", "app-postgresql-logs", "app-upgrade-logs"), drop_input("app-postgresql-logs", "kmsKeyId"), label="unencrypted"),
    Case("postgres-grants-scoped", ("app-pg-api-connect",), set_input("app-pg-api-connect", "privileges", ["ALL"])),
    Case("dynamodb-recovery-and-encryption", ("mail-table",), set_input("mail-table", "pointInTimeRecovery", {"enabled": False})),
    Case("dynamodb-deletion-protection", ("mail-table",), set_input("mail-table", "deletionProtectionEnabled", False), stack="prd"),
    Case("ecs-cluster-observable", ("cluster-cluster",), set_input("cluster-cluster", "settings", [{"name": "containerInsights", "value": "disabled"}])),
    Case("ecs-cluster-observable", ("cluster-cluster",), exec_logging(cloudWatchEncryptionEnabled=False), label="exec-transcripts-unencrypted"),
    Case("ecs-cluster-observable", ("cluster-cluster",), exec_logging(s3BucketName="exec-transcripts"), label="exec-bucket-unencrypted"),
    Case("ecs-cluster-observable", ("cluster-cluster",), drop_input("cluster-cluster", "configuration"), label="no-exec-configuration"),
    Case("ecs-container-unprivileged", ("api-task",), edit_json("api-task", "containerDefinitions", each_container(lambda c: c.update(privileged=True)))),
    Case("ecs-task-separate-roles", ("api-task",), lambda rs: named(rs, "api-task").inputs.update(taskRoleArn=named(rs, "api-task").inputs["executionRoleArn"])),
    Case("ecs-task-awsvpc", ("api-task",), set_input("api-task", "networkMode", "bridge")),
    Case("ecs-task-awsvpc", ("settlement-task",), drop_input("settlement-task", "networkMode"), label="unset-is-bridge"),
    Case("ecs-task-no-host-namespaces", ("api-task",), set_input("api-task", "pidMode", "host")),
    Case("ecs-task-no-host-namespaces", ("api-task",), set_input("api-task", "ipcMode", "host"), label="ipc"),
    Case("ecs-container-logging", ("api-task",), edit_json("api-task", "containerDefinitions", lambda cs: cs[-1].pop("logConfiguration"))),
    Case("no-plain-secrets", ("api-task",), edit_json("api-task", "containerDefinitions", lambda cs: cs[0]["environment"].append({"name": "DB_PASSWORD", "value": "x"}))),
    Case("no-plain-secrets", ("mail-dispatcher-function",), lambda rs: named(rs, "mail-dispatcher-function").inputs["environment"]["variables"].update(API_TOKEN="x"), label="lambda"),
    Case("ecs-readonly-root", ("api-task",), lambda rs: None, good=edit_json("api-task", "containerDefinitions", each_container(lambda c: c.update(readonlyRootFilesystem=True)))),
    Case("ecs-images-pinned", ("api-task",), edit_json("api-task", "containerDefinitions", lambda cs: cs[1].update(image="public.ecr.aws/datadog/agent:latest"))),
    Case("ecs-service-private", ("api-service",), lambda rs: named(rs, "api-service").inputs["networkConfiguration"].update(assignPublicIp=True)),
    Case("ecs-deployment-rollback", ("api-service",), set_input("api-service", "deploymentCircuitBreaker", {"enable": True, "rollback": False})),
    Case("ecr-repository", ("api-repository",), set_input("api-repository", "imageTagMutability", "MUTABLE")),
    Case("ecr-lifecycle", ("api-repository", "api-repository-lifecycle"), drop("api-repository-lifecycle")),
    Case("lambda-function", ("mail-dispatcher-function",), set_input("mail-dispatcher-function", "runtime", "python3.9")),
    Case("lambda-permission-scoped", ("mail-status-invoke",), drop_input("mail-status-invoke", "sourceArn")),
    Case("lambda-url-authenticated", ("mail-status-function",), derived("mail-status-function", FUNCTION_URL, "mail-status-url", functionName="platform-stg-mail-status", authorizationType="NONE"), good=derived("mail-status-function", FUNCTION_URL, "mail-status-url", functionName="platform-stg-mail-status", authorizationType="AWS_IAM")),
    Case("lambda-permission-scoped", ("mail-status-invoke",), invoked_by("s3.amazonaws.com", "arn:aws:s3:::platform-stg-inbox"), good=invoked_by("events.amazonaws.com", "arn:aws:events:ap-northeast-1:210987654321:rule/platform-stg-x"), label="bucket-arn-names-no-account"),
    Case("step-functions-observable", ("settlement-state-machine",), set_input("settlement-state-machine", "tracingConfiguration", {"enabled": False})),
    Case("step-functions-observable", ("settlement-state-machine",), set_input("settlement-state-machine", "loggingConfiguration", {"level": "ERROR", "includeExecutionData": False, "logDestination": "arn:aws:logs:ap-northeast-1:210987654321:log-group:x:*"}), label="errors-only"),
    Case("step-functions-observable", ("settlement-state-machine",), edit_json("settlement-state-machine", "definition", lambda d: d["States"]["Run ECS Task"].pop("Catch")), label="no-catch"),
    Case("schedules-valid", ("settlement-schedule",), set_input("settlement-schedule", "scheduleExpression", "cron(0 5 * * * *)")),
    Case("schedules-valid", ("settlement-schedule",), lambda rs: named(rs, "settlement-schedule").inputs["target"].pop("deadLetterConfig"), label="no-dlq"),
    Case("vpc-flow-logs", ("network-vpc", "network-flow-log"), drop("network-flow-log")),
    Case("vpc-default-sg-closed", ("network-default-sg",), set_input("network-default-sg", "ingress", [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}])),
    Case("subnet-no-public-ip", ("network-subnet-public-ap-northeast-1a",), set_input("network-subnet-public-ap-northeast-1a", "mapPublicIpOnLaunch", True)),
    Case("sg-no-world-ingress", (ALB, "cluster-alb-sg", "cluster-alb-from-internet-443"), lambda rs: named(rs, "cluster-alb-from-internet-443").inputs.update(fromPort=22, toPort=22)),
    Case("sg-no-world-ingress", (ALB, "cluster-alb-sg", "cluster-alb-from-internet-443"), lambda rs: named(rs, "cluster-alb-from-internet-443").inputs.update(fromPort=443, toPort=10**18), label="a-huge-port-range"),
    Case("sg-no-world-ingress", (ALB, "cluster-alb-sg", "cluster-alb-from-internet-443"), lambda rs: named(rs, "cluster-alb-from-internet-443").inputs.update(fromPort=-1, toPort="all"), label="every-port-written-oddly"),
    Case("sg-no-world-ingress", ("api-sg", "cluster-alb-from-internet-443"), lambda rs: named(rs, "cluster-alb-from-internet-443").property_dependencies.update(securityGroupId=[named(rs, "api-sg").urn]), good=lambda rs: rs.remove(named(rs, "cluster-alb-from-internet-443")), label="not-the-load-balancer"),
    Case("sg-no-world-ingress", ("cluster-alb-sg",), set_input("cluster-alb-sg", "ingress", [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "ipv6CidrBlocks": ["::/0"]}]), label="inline-ipv6"),
    Case("sg-described", ("network-endpoints-sg",), set_input("network-endpoints-sg", "description", "")),
    Case("elb-hardening", (ALB,), set_input(ALB, "dropInvalidHeaderFields", False)),
    Case("elb-deletion-protection", (ALB,), set_input(ALB, "enableDeletionProtection", False), stack="prd"),
    Case("elb-tls", ("cluster-http-redirect",), set_input("cluster-http-redirect", "defaultActions", [{"type": "forward", "targetGroupArn": "x"}])),
    Case("elb-tls", ("cluster-https",), set_input("cluster-https", "sslPolicy", "ELBSecurityPolicy-2016-08"), label="old-tls"),
    Case("sqs-encrypted", ("mail-queue",), drop_input("mail-queue", "kmsMasterKeyId")),
    Case("sqs-dead-letter", ("mail-queue", "mail-dlq"), drop_input("mail-queue", "redrivePolicy")),
    Case("lambda-async-failure-destination", ("mail-rule-status", "mail-status-function", "mail-status-invoke-config", "mail-status-failed"), drop("mail-status-invoke-config")),
    Case("sqs-dead-letter", ("mail-rule-status", "mail-status-function", "mail-status-invoke-config", "mail-status-failed"), drop("mail-status-invoke-config"), label="lambda-destination-is-a-dead-letter-queue"),
    Case("sqs-dead-letter", ("mail-queue", "mail-dlq"), redrive_as_its_own_resource(dead_letter=False), good=redrive_as_its_own_resource(), label="separate-redrive-policy"),
    Case("sqs-tls-only", ("mail-queue", "mail-queue-policy"), drop("mail-queue-policy")),
    Case("resource-policies-scoped", ("api-repository",), derived("api-repository", ECR_POLICY, "api-repository-policy", repository="platform-stg-api", policy=policy("*", "ecr:BatchGetImage")), good=derived("api-repository", ECR_POLICY, "api-repository-policy", repository="platform-stg-api", policy=policy(ACCOUNT_ROOT, "ecr:BatchGetImage")), label="repository-policy"),
    Case("resource-policies-scoped", ("app-pg-api-secret",), derived("app-pg-api-secret", SECRET_POLICY, "app-pg-api-secret-policy", secretArn="arn:aws:secretsmanager:ap-northeast-1:210987654321:secret:x", policy=policy({"AWS": ["*"]}, "secretsmanager:GetSecretValue")), good=derived("app-pg-api-secret", SECRET_POLICY, "app-pg-api-secret-policy", secretArn="arn:aws:secretsmanager:ap-northeast-1:210987654321:secret:x", policy=policy(ACCOUNT_ROOT, "secretsmanager:GetSecretValue")), label="secret-policy"),
    Case("resource-policies-scoped", (ALB,), derived(ALB, LOG_POLICY, "waf-log-delivery", policyName="waf", policyDocument=policy({"Service": "delivery.logs.amazonaws.com"}, "logs:PutLogEvents")), good=derived(ALB, LOG_POLICY, "waf-log-delivery", policyName="waf", policyDocument=policy({"Service": "delivery.logs.amazonaws.com"}, "logs:PutLogEvents", StringEquals={"aws:SourceAccount": "210987654321"})), label="log-resource-policy"),
    Case("resource-policies-scoped", ("mail-queue-policy",), edit_json("mail-queue-policy", "policy", lambda d: d["Statement"][0].pop("Condition"))),
    Case("sns-encrypted", ("mail-topic",), drop_input("mail-topic", "kmsMasterKeyId")),
    Case("sqs-event-source-partial-failures", ("mail-dispatcher-source",), set_input("mail-dispatcher-source", "functionResponseTypes", [])),
    Case("sqs-visibility-covers-consumer", ("mail-queue", "mail-dispatcher-function", "mail-dispatcher-source"), set_input("mail-queue", "visibilityTimeoutSeconds", 60)),
    Case("ses-receiving-region", ("mail-rule-store",), set_input("mail-rule-store", "region", "ap-northeast-3")),
    Case("ses-receipt-rule-safe", ("mail-rule-store",), set_input("mail-rule-store", "tlsPolicy", "Optional")),
    Case("iam-least-privilege", ("api-execution-policy",), edit_json("api-execution-policy", "policy", lambda d: d["Statement"].append({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))),
    Case("iam-least-privilege", ("api-execution-policy",), edit_json("api-execution-policy", "policy", lambda d: d["Statement"].append({"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"})), label="write-everywhere"),
    Case("iam-passrole-scoped", ("settlement-state-machine-policy",), edit_json("settlement-state-machine-policy", "policy", lambda d: [s.update(Resource="*") for s in d["Statement"] if s["Sid"] == "PassTaskRoles"])),
    Case("iam-trust-scoped", ("api-task-role",), edit_json("api-task-role", "assumeRolePolicy", lambda d: d["Statement"][0].pop("Condition"))),
    Case("iam-trust-scoped", ("api-task-role",), github_role("repo:acme-payments/platform:ref:refs/heads/main"), good=github_role("repo:acme-payments/platform:environment:prd"), label="deploy-prd-from-a-branch"),
    Case("iam-trust-scoped", ("api-task-role",), github_role("repo:acme-payments/*", operator="StringLike", name="preview"), good=github_role("repo:acme-payments/platform:pull_request", name="preview"), label="wildcard-subject"),
    Case("iam-no-broad-managed-policies", ("app-monitoring-policy",), set_input("app-monitoring-policy", "policyArn", "arn:aws:iam::aws:policy/AdministratorAccess")),
    Case("kms-key-hygiene", ("app-key",), set_input("app-key", "enableKeyRotation", False)),
    Case("kms-key-hygiene", ("app-key",), derived("app-key", KEY_POLICY, "app-key-policy", keyId="k", policy=policy("*", "kms:Decrypt")), good=derived("app-key", KEY_POLICY, "app-key-policy", keyId="k", policy=policy(ACCOUNT_ROOT, "kms:*")), label="standalone-key-policy"),
    Case("kms-key-policy-scoped", ("app-key",), set_input("app-key", "policy", policy(ACCOUNT_ROOT, "kms:*")), label="root-uses-everything"),
    Case("kms-key-policy-scoped", ("app-key",), set_input("app-key", "policy", policy({"AWS": "210987654321"}, "kms:Decrypt")), good=set_input("app-key", "policy", policy({"AWS": "210987654321"}, "kms:Decrypt", **VIA_RDS)), label="account-id-decrypts"),
    Case("kms-key-policy-scoped", ("app-key",), drop_input("app-key", "policy"), label="default-policy"),
    Case("kms-key-policy-scoped", ("app-key",), standalone_key_policy(policy(ACCOUNT_ROOT, "kms:GenerateDataKey*")), good=standalone_key_policy(policy(ACCOUNT_ROOT, "kms:Decrypt", **VIA_RDS)), label="standalone"),
    Case("secrets-customer-key", ("app-pg-api-secret",), drop_input("app-pg-api-secret", "kmsKeyId")),
    Case("vpc-endpoint-policy-scoped", ("network-endpoint-s3",), drop_input("network-endpoint-s3", "policy"), label="no-policy"),
    Case("vpc-endpoint-policy-scoped", ("network-endpoint-s3",), set_input("network-endpoint-s3", "policy", policy({"AWS": "*"}, "s3:GetObject")), good=set_input("network-endpoint-s3", "policy", policy({"AWS": "*"}, "s3:GetObject", **OUR_PRINCIPALS)), label="any-credentials"),
    Case("vpc-endpoint-policy-scoped", ("network-endpoint-secretsmanager",), set_input("network-endpoint-secretsmanager", "policy", policy("*", "*", **OUR_PRINCIPALS)), good=set_input("network-endpoint-secretsmanager", "policy", policy("*", "*", **OUR_RESOURCES)), label="any-resource"),
    Case("vpc-endpoint-policy-scoped", ("network-endpoint-s3",), standalone_endpoint_policy(policy("*", "*")), good=standalone_endpoint_policy(policy("*", "*", **OUR_RESOURCES)), label="standalone"),
    Case("vpc-egress-filtered", (APP_ROUTE, "network-rt-app-ap-northeast-1a"), app_route_to_nat),
    Case("vpc-egress-filtered", ("network-rt-app-ap-northeast-1a",), set_input("network-rt-app-ap-northeast-1a", "routes", [{"cidrBlock": "0.0.0.0/0", "natGatewayId": "nat-1"}]), good=set_input("network-rt-app-ap-northeast-1a", "routes", [{"cidrBlock": "10.99.0.0/16", "natGatewayId": "nat-1"}]), label="inline-route"),
    Case("vpc-egress-filtered", ("network-rt-app-ap-northeast-1a",), set_input("network-rt-app-ap-northeast-1a", "routes", [{"ipv6CidrBlock": "::/0", "egressOnlyGatewayId": "eigw-1"}]), label="ipv6-egress-only"),
    Case("log-retention", ("network-flow-logs",), drop_input("network-flow-logs", "retentionInDays")),
    Case("required-tags", ("network-vpc",), set_input("platform-aws", "defaultTags", json.dumps({"tags": {"Env": "stg"}}))),
    Case("stateful-protected", ("app-key",), protect("app-key", False), good=protect("app-key", True)),
    Case("monitor-routing", ("monitoring-database.app.cpu",), lambda rs: named(rs, "monitoring-database.app.cpu").inputs.update(message="no link")),
    Case("monitor-routing", ("monitoring-database.app.cpu",), lambda rs: named(rs, "monitoring-database.app.cpu").inputs.update(message=named(rs, "monitoring-database.app.cpu").inputs["message"] + " @pagerduty-platform-stg-api"), label="staging-pages"),
    Case("monitor-routing", ("monitoring-database.app.cpu",), lambda rs: named(rs, "monitoring-database.app.cpu").inputs.update(message=named(rs, "monitoring-database.app.cpu").inputs["message"].replace("@pagerduty-", "@nobody-")), stack="prd", config={"monitor-routing": {"requirePagerDuty": True}}, label="production-does-not-page"),
    Case("monitor-coverage", ("api-service", "monitoring-app.api.cpu"), drop("monitoring-app.api.cpu")),
    Case("pagerduty-service-escalates", ("oncall-service-api",), drop_input("oncall-service-api", "escalationPolicy"), stack="prd"),
]  # fmt: skip


def violations(pack: PolicyPackServer, resources: Resources, config: dict[str, Any]) -> list[Violation]:
    pack.configure({"all": "mandatory", **config}, stack="test")
    return pack.analyze(resources)


def _id(case: Case) -> str:
    return f"{case.rule}-{case.label}" if case.label else case.rule


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_rule_accepts_the_compliant_and_catches_the_non_compliant(pack: PolicyPackServer, case: Case) -> None:
    good = pick(case.stack, case.names)
    if case.good is not None:
        case.good(good)
    bad = copy.deepcopy(good) if case.good is None else pick(case.stack, case.names)
    case.bad(bad)
    assert case.rule not in {v.policy for v in violations(pack, good, case.config)}, "flagged a compliant case"
    found = [v for v in violations(pack, bad, case.config) if v.policy == case.rule]
    assert found, "missed the non-compliant case"
    assert all("Why: " in v.message and "Fix: " in v.message for v in found)


def test_every_rule_has_a_case() -> None:
    assert {rule.id for rule in RULES} == {case.rule for case in CASES}


@pytest.mark.parametrize("stack", ["stg", "prd"])
def test_a_stack_rule_joins_only_the_types_it_declares(stack: str) -> None:
    """The README's table shows each rule's types; a stack rule that starts reading another fails here."""
    run = stack_run(stack)
    for rule in RULES:
        if rule.stack_check is None:
            continue
        seen = Stack(as_seen(run.resources))
        list(rule.stack_check(seen, {k: v.get("default") for k, v in rule.config.items()}))
        assert seen.asked, rule.id
        assert seen.asked <= set(rule.types), (rule.id, seen.asked - set(rule.types))


def test_rules_state_why_and_how_to_fix() -> None:
    for rule in RULES:
        assert rule.description.endswith(".")
        assert len(rule.why) > 20
        assert len(rule.fix) > 10
        assert rule.anchors


def test_a_huge_port_range_is_judged_without_enumerating_it(pack: PolicyPackServer) -> None:
    """A range of 10**18 ports once made the rule build a set of that size; now it is a bound check."""
    resources = pick("stg", (ALB, "cluster-alb-sg", "cluster-alb-from-internet-443"))
    named(resources, "cluster-alb-from-internet-443").inputs.update(fromPort=0, toPort=10**18)
    started = time.monotonic()
    found = [v for v in violations(pack, resources, {}) if v.policy == "sg-no-world-ingress"]
    assert time.monotonic() - started < 10
    assert any("ports 0-65535" in v.message for v in found)


def _reads(rule_id: str, resources: Resources, config: dict[str, Any]) -> dict[str, set[str]]:
    """urn -> the inputs the rule read of that resource, evaluating it in-process on the plain inputs."""
    return reads_of(next(r for r in RULES if r.id == rule_id), resources, config.get(rule_id, {}))


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_a_violation_stands_when_every_input_the_rule_does_not_read_is_unknown(
    pack: PolicyPackServer, case: Case
) -> None:
    """A real preview of new resources leaves most inputs unknown (ARNs, names of new resources). A rule
    decides on what it reads: unknowns elsewhere (a tag, a description) must not switch it off."""
    bad = pick(case.stack, case.names)
    case.bad(bad)
    reads = _reads(case.rule, bad, case.config)
    unknown = copy.deepcopy(bad)
    blanked = 0
    for resource in unknown:
        for key in resource.inputs:
            if key not in reads[resource.urn]:
                resource.inputs[key] = UNKNOWN
                blanked += 1
    found = [v for v in violations(pack, unknown, case.config) if v.policy == case.rule]
    assert any(v.level == "mandatory" for v in found), f"switched off by {blanked} unknown inputs it does not read"


def test_a_rule_whose_own_input_is_unknown_cannot_decide_and_says_so(pack: PolicyPackServer) -> None:
    """The non-compliant value itself unknown: the SDK's advisory "can't run ... during preview", no crash;
    in `up` the value is known and the rule decides at its own level."""
    resources = pick("stg", ("settlement-state-machine",))
    named(resources, "settlement-state-machine").inputs["tracingConfiguration"] = UNKNOWN
    found = [v for v in violations(pack, resources, {}) if v.policy == "step-functions-observable"]
    assert [v.level for v in found] == ["advisory"]
    assert "can't run policy 'step-functions-observable'" in found[0].message
    assert "tracingConfiguration" in found[0].message


def test_a_stack_rule_still_decides_the_resources_whose_inputs_are_known(pack: PolicyPackServer) -> None:
    """One ingress rule with an unknown CIDR (a preview) must not switch the rule off for another that
    opens port 22 to the world: the stack rule judges each subject on its own inputs."""
    resources = pick("stg", (ALB, "cluster-alb-sg", "cluster-alb-from-internet-443"))
    rule = named(resources, "cluster-alb-from-internet-443")
    undecided, open_ssh = copy.deepcopy(rule), copy.deepcopy(rule)
    for copied, name in ((undecided, "undecided-ingress"), (open_ssh, "open-ssh")):
        copied.urn, copied.name = rule.urn.replace(rule.name, name), name
    undecided.inputs["cidrIpv4"] = UNKNOWN
    open_ssh.inputs.update(fromPort=22, toPort=22)
    found = [v for v in violations(pack, [*resources, undecided, open_ssh], {}) if v.policy == "sg-no-world-ingress"]
    assert [(v.level, v.urn) for v in found] == [("mandatory", open_ssh.urn)]


def test_the_readmes_card_data_table_names_rules_the_pack_has() -> None:
    """The assessor's table in the README cites rules by id: each must exist, so a renamed rule fails here."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Card data", 1)[1].split("\n## ", 1)[0]
    cited = {
        rule
        for row in section.splitlines()
        if row.startswith("| ")
        for rule in re.findall(r"`([a-z0-9-]+)`", row.rsplit("|", 2)[-2])
    }
    assert cited, "the Card data table cites no rule"
    assert cited <= {rule.id for rule in RULES}, cited - {rule.id for rule in RULES}
