"""ECS apps on the mock runtime: task definitions, roles, network paths, service and load balancer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import assert_rejected, config_of, policy_of, with_area
from tools.mock_runtime import ProgramRun
from tools.offline import run_stack
from tools.stack_config import StackConfig


def apps_of(run: ProgramRun) -> list[str]:
    return sorted(config_of(run).apps.services)


def web_apps_of(run: ProgramRun) -> list[str]:
    """Apps behind the load balancer (with `routing`)."""
    return sorted(name for name, app in config_of(run).apps.services.items() if app.routing is not None)


def containers(run: ProgramRun, app: str) -> dict[str, dict[str, Any]]:
    definitions = json.loads(run.named(f"{app}-task").inputs["containerDefinitions"])
    return {c["name"]: c for c in definitions}


def sg_rules(run: ProgramRun, kind: str, group_id: str) -> list[dict[str, Any]]:
    token = f"aws:vpc/securityGroup{kind}Rule:SecurityGroup{kind}Rule"
    return [r.inputs for r in run.of_type(token) if r.inputs["securityGroupId"] == group_id]


def test_every_task_runs_app_agent_and_log_router(platform: ProgramRun) -> None:
    for app in apps_of(platform):
        task = platform.named(f"{app}-task").inputs
        assert task["requiresCompatibilities"] == ["FARGATE"]
        assert task["networkMode"] == "awsvpc"
        assert task["family"] == f"platform-{platform.stack}-{app}"
        assert task["executionRoleArn"].endswith(f"role/{app}-execution-role")
        assert task["taskRoleArn"].endswith(f"role/{app}-task-role")
        found = containers(platform, app)
        assert sorted(found) == ["app", "datadog-agent", "log-router"]
        assert all(c["essential"] for c in found.values())


def test_app_container_ships_logs_through_firelens_to_datadog(platform: ProgramRun) -> None:
    app = containers(platform, "api")["app"]
    logging = app["logConfiguration"]
    assert logging["logDriver"] == "awsfirelens"
    options = logging["options"]
    assert options["Name"] == "datadog"
    assert options["Host"] == "http-intake.logs.ap1.datadoghq.com"
    assert options["TLS"] == "on"
    assert options["dd_service"] == "api"
    assert options["dd_source"] == "app"
    assert f"env:{platform.stack}" in options["dd_tags"]
    assert "apikey" not in options
    (api_key,) = logging["secretOptions"]
    assert api_key["name"] == "apikey"
    assert api_key["valueFrom"].endswith(f":secret:platform/{platform.stack}/datadog-api-key-Mock01")
    assert app["dependsOn"] == [{"condition": "START", "containerName": "log-router"}]
    env = {e["name"]: e["value"] for e in app["environment"]}
    assert env["DD_ENV"] == platform.stack
    assert env["DD_SERVICE"] == "api"
    assert env["DD_VERSION"] == "2026.11.20-1"
    assert app["portMappings"] == [{"containerPort": 8080, "protocol": "tcp"}]


def test_datadog_agent_and_router_sidecars(platform: ProgramRun) -> None:
    found = containers(platform, "admin")
    agent = found["datadog-agent"]
    env = {e["name"]: e["value"] for e in agent["environment"]}
    assert env["ECS_FARGATE"] == "true"
    assert env["DD_APM_ENABLED"] == "true"
    assert env["DD_SITE"] == "ap1.datadoghq.com"
    assert (env["DD_ENV"], env["DD_SERVICE"]) == (platform.stack, "admin")
    assert "DD_API_KEY" not in env
    assert [s["name"] for s in agent["secrets"]] == ["DD_API_KEY"]
    assert ":latest" not in agent["image"]
    router = found["log-router"]
    assert router["firelensConfiguration"]["type"] == "fluentbit"
    assert router["logConfiguration"]["logDriver"] == "awslogs"
    assert router["logConfiguration"]["options"]["awslogs-group"] == f"/platform/{platform.stack}/ecs/admin"


def test_worker_runs_the_api_image_with_its_own_command(platform: ProgramRun) -> None:
    app = containers(platform, "worker")["app"]
    assert app["image"].endswith("/api:2026.11.20-1")
    assert app["command"] == ["bin/worker"]
    assert "portMappings" not in app
    policy = policy_of(platform.named("worker-execution-policy").inputs)
    pull = next(s for s in policy["Statement"] if s["Sid"] == "PullImage")
    account = _account(platform)
    assert pull["Resource"] == [f"arn:aws:ecr:ap-northeast-1:{account}:repository/{r}" for r in ("api", "ecr-public/*")]


def test_secrets_come_only_by_reference(platform: ProgramRun) -> None:
    config = config_of(platform)
    for app in apps_of(platform):
        for container in containers(platform, app).values():
            for entry in container.get("environment", []):
                assert set(entry) == {"name", "value"}
                assert "secret:" not in entry["value"]
                assert not any(marker in entry["value"] for marker in ("offline-secret", "OfflinePassword"))
            for entry in container.get("secrets", []):
                assert set(entry) == {"name", "valueFrom"}
                assert entry["valueFrom"].startswith("arn:aws:secretsmanager:ap-northeast-1:")
        app_secrets = {s["name"] for s in containers(platform, app)["app"]["secrets"]}
        assert app_secrets == set(config.apps.services[app].secrets)


def _expected_secret_arns(run: ProgramRun, app: str) -> set[str]:
    config = config_of(run)
    prefix = f"arn:aws:secretsmanager:ap-northeast-1:{_account(run)}:secret:platform/{run.stack}"
    expected = {f"{prefix}/datadog-api-key-Mock01"}
    for source in config.apps.services[app].secrets.values():
        if source.database:
            expected.add(f"{prefix}/db/{source.database}/{source.user}-Mock01")
        else:
            expected.add(f"arn:aws:secretsmanager:ap-northeast-1:{_account(run)}:secret:{source.name}-??????")
    return expected


def test_execution_role_reads_exactly_the_referenced_secrets(platform: ProgramRun) -> None:
    for app in apps_of(platform):
        policy = policy_of(platform.named(f"{app}-execution-policy").inputs)
        statements = {s["Sid"]: s for s in policy["Statement"]}
        assert set(statements["ReadSecrets"]["Resource"]) == _expected_secret_arns(platform, app)
        assert statements["ReadSecrets"]["Action"] == ["secretsmanager:GetSecretValue"]
        decrypt = statements["DecryptSecrets"]
        assert decrypt["Condition"] == {
            "StringEquals": {"kms:ViaService": "secretsmanager.ap-northeast-1.amazonaws.com"}
        }
        for statement in policy["Statement"]:
            assert not any(a == "*" or a.endswith(":*") for a in statement["Action"])
            if statement["Resource"] == ["*"]:
                assert statement["Action"] == ["ecr:GetAuthorizationToken"]


def test_card_secrets_are_readable_only_by_apps_that_use_them(platform: ProgramRun) -> None:
    for app in apps_of(platform):
        resources = {
            arn
            for s in policy_of(platform.named(f"{app}-execution-policy").inputs)["Statement"]
            for arn in s["Resource"]
        }
        uses_card = any("/db/card/" in arn for arn in resources)
        secrets = config_of(platform).apps.services[app].secrets.values()
        assert uses_card is any(getattr(secret, "database", None) == "card" for secret in secrets)


def test_task_role_allows_ecs_exec_and_nothing_else(platform: ProgramRun) -> None:
    policies = [r for r in platform.of_type("aws:iam/rolePolicy:RolePolicy") if r.inputs["role"] == "api-task-role-id"]
    (policy,) = policies
    statements = {s["Sid"]: s for s in policy_of(policy.inputs)["Statement"]}
    assert statements["EcsExecChannels"]["Action"] == [
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    ]
    assert statements["EcsExecSessionKey"]["Resource"] == [
        f"arn:aws:kms:ap-northeast-1:{_account(platform)}:key/mock-cluster-key"
    ]


def test_task_roles_trust_only_ecs_tasks_of_this_account(platform: ProgramRun) -> None:
    for app in apps_of(platform):
        for role in (f"{app}-task-role", f"{app}-execution-role"):
            (trust,) = policy_of(platform.named(role).inputs, "assumeRolePolicy")["Statement"]
            assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
            assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": _account(platform)}


def test_web_apps_accept_traffic_only_from_their_load_balancer(platform: ProgramRun) -> None:
    services = config_of(platform).apps.services
    for app in apps_of(platform):
        ingress = sg_rules(platform, "Ingress", f"{app}-sg-id")
        port, internal = services[app].port, services[app].internal
        expected = [
            {
                "description": f"The {'internal' if internal else 'public'} load balancer",
                "fromPort": port,
                "ipProtocol": "tcp",
                "referencedSecurityGroupId": "cluster-internal-alb-sg-id" if internal else "cluster-alb-sg-id",
                "securityGroupId": f"{app}-sg-id",
                "toPort": port,
            }
        ]
        assert ingress == (expected if app in web_apps_of(platform) else [])


def test_internal_apps_are_routed_only_through_the_internal_load_balancer(platform: ProgramRun) -> None:
    services = config_of(platform).apps.services
    listeners = {
        "cluster-https": platform.named("cluster-https").urn,
        "cluster-internal-alb-https": platform.named("cluster-internal-alb-https").urn,
    }
    for app in web_apps_of(platform):
        route = platform.named(f"{app}-route")
        expected = "cluster-internal-alb-https" if services[app].internal else "cluster-https"
        assert route.inputs["listenerArn"].endswith(f"listener/{expected}"), app
        assert route.property_dependencies["listenerArn"] == [listeners[expected]], app
        exposure = platform.named(f"{app}-targets").inputs["tags"]["Exposure"]
        assert exposure == ("internal" if services[app].internal else "public")


def test_internal_load_balancer_is_private_and_admits_only_the_operator_networks(platform: ProgramRun) -> None:
    config = config_of(platform)
    internal = config.apps.load_balancer.internal
    assert internal is not None  # both stacks serve their back office on it
    alb = platform.named("cluster-internal-alb").inputs
    assert alb["internal"] is True
    assert sorted(alb["subnets"]) == sorted(platform.outputs["appSubnetIds"])
    assert alb["dropInvalidHeaderFields"] is True
    assert alb["accessLogs"] == {"bucket": platform.named("cluster-alb").inputs["accessLogs"]["bucket"],
                                 "enabled": True, "prefix": "alb/internal"}  # fmt: skip
    ingress = sg_rules(platform, "Ingress", "cluster-internal-alb-sg-id")
    assert sorted((r["cidrIpv4"], r["fromPort"], r["toPort"]) for r in ingress) == sorted(
        (cidr, 443, 443) for cidr in internal.allowed_cidrs
    )
    internal_apps = sorted(a for a in web_apps_of(platform) if config.apps.services[a].internal)
    egress = sg_rules(platform, "Egress", "cluster-internal-alb-sg-id")
    assert sorted(r["referencedSecurityGroupId"] for r in egress) == [f"{a}-sg-id" for a in internal_apps]
    assert not [r for r in platform.of_type("aws:lb/listener:Listener") if r.inputs["port"] == 80
                and r.inputs["loadBalancerArn"].endswith("cluster-internal-alb")]  # fmt: skip
    delivery = policy_of(platform.named("cluster-alb-logs-policy").inputs)["Statement"][0]
    account = _account(platform)
    assert [r.split(":::", 1)[1] for r in delivery["Resource"]] == [
        f"platform-{platform.stack}-alb-logs-{account}/{prefix}/AWSLogs/{account}/*"
        for prefix in ("alb", "alb/internal")
    ]
    assert platform.outputs["internalLoadBalancerDnsName"] not in ("", platform.outputs["loadBalancerDnsName"])


def test_without_internal_apps_there_is_no_internal_load_balancer(
    stack_values: Callable[[str], dict[str, str]],
) -> None:
    def everything_public(apps: dict[str, Any]) -> None:
        del apps["loadBalancer"]["internal"]
        for app in apps["services"].values():
            app.pop("internal", None)
        apps["loadBalancer"]["owner"] = "api"

    values = with_area(stack_values("stg"), "platform:apps", everything_public)
    run = run_stack("stg", config=StackConfig(project="platform", stack="stg", values=values))
    assert not [r for r in run.resources if "internal-alb" in r.name]
    assert "internalLoadBalancerDnsName" not in run.outputs
    (delivery, _) = policy_of(run.named("cluster-alb-logs-policy").inputs)["Statement"]
    assert not [r for r in delivery["Resource"] if "/alb/internal/" in r]  # no delivery to a prefix nobody writes
    assert run.named("admin-route").inputs["listenerArn"].endswith("listener/cluster-https")


def test_apps_reach_only_https_and_their_databases(platform: ProgramRun) -> None:
    config = config_of(platform)
    for app in apps_of(platform):
        egress = sg_rules(platform, "Egress", f"{app}-sg-id")
        targets = sorted(r.get("cidrIpv4") or r["referencedSecurityGroupId"] for r in egress)
        databases = sorted(f"{db}-sg-id" for db, s in config.databases.items() if app in s.clients)
        assert targets == sorted(["0.0.0.0/0", *databases])
        for rule in egress:
            assert rule["fromPort"] == rule["toPort"]
            assert rule["fromPort"] in (443, 5432)


def test_databases_accept_exactly_their_configured_clients(platform: ProgramRun) -> None:
    config = config_of(platform)
    for db, settings in config.databases.items():
        ingress = sg_rules(platform, "Ingress", f"{db}-sg-id")
        assert sorted(r["referencedSecurityGroupId"] for r in ingress) == sorted(f"{c}-sg-id" for c in settings.clients)
        assert {(r["fromPort"], r["toPort"]) for r in ingress} == {(5432, 5432)}


def test_load_balancer_listens_on_80_and_443_from_anywhere_and_talks_only_to_apps(platform: ProgramRun) -> None:
    ingress = sg_rules(platform, "Ingress", "cluster-alb-sg-id")
    assert sorted((r["fromPort"], r["cidrIpv4"]) for r in ingress) == [(80, "0.0.0.0/0"), (443, "0.0.0.0/0")]
    services = config_of(platform).apps.services
    egress = sg_rules(platform, "Egress", "cluster-alb-sg-id")
    public = [app for app in web_apps_of(platform) if not services[app].internal]
    assert sorted(r["referencedSecurityGroupId"] for r in egress) == [f"{app}-sg-id" for app in public]


def test_services_are_private_self_healing_and_exec_enabled(platform: ProgramRun) -> None:
    for app in apps_of(platform):
        service = platform.named(f"{app}-service")
        inputs = service.inputs
        network = inputs["networkConfiguration"]
        assert network["assignPublicIp"] is False
        assert sorted(network["subnets"]) == sorted(platform.outputs["appSubnetIds"])
        assert network["securityGroups"] == [f"{app}-sg-id"]
        assert inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert inputs["enableExecuteCommand"] is True
        assert inputs["propagateTags"] == "SERVICE"
        assert inputs["deploymentMinimumHealthyPercent"] == 100
        assert "launchType" not in inputs
        assert inputs["capacityProviderStrategies"][0]["capacityProvider"] == "FARGATE"
        assert inputs["capacityProviderStrategies"][0]["base"] == 1
        assert platform.named("cluster-capacity").urn in service.dependencies
        if app in web_apps_of(platform):
            assert inputs["healthCheckGracePeriodSeconds"] == 60
            (lb,) = inputs["loadBalancers"]
            assert (lb["containerName"], lb["containerPort"]) == ("app", 8080)
            assert platform.named(f"{app}-route").urn in service.dependencies
        else:
            assert "loadBalancers" not in inputs


def test_autoscaled_services_leave_the_count_to_autoscaling(platform: ProgramRun) -> None:
    api = platform.named("api-service")
    assert api.ignore_changes == ["desiredCount"]
    assert platform.named("worker-service").ignore_changes == []
    target = platform.named("api-scaling-target").inputs
    expected = {"stg": (1, 3), "prd": (3, 20)}[platform.stack]
    assert (target["minCapacity"], target["maxCapacity"]) == expected
    assert target["resourceId"] == f"service/platform-{platform.stack}/platform-{platform.stack}-api"
    policy = platform.named("api-scaling-cpu").inputs
    config = policy["targetTrackingScalingPolicyConfiguration"]
    assert config["targetValue"] == 60
    assert config["predefinedMetricSpecification"]["predefinedMetricType"] == "ECSServiceAverageCPUUtilization"


@pytest.mark.parametrize(("stack", "api_count", "worker_spot"), [("stg", 1, 100), ("prd", 3, 50)])
def test_prd_versus_stg(stack: str, api_count: int, worker_spot: int) -> None:
    from tests.conftest import stack_run

    run = stack_run(stack)
    assert run.named("api-service").inputs["desiredCount"] == api_count
    strategies = {
        s["capacityProvider"]: s["weight"] for s in run.named("worker-service").inputs["capacityProviderStrategies"]
    }
    assert strategies.get("FARGATE_SPOT") == worker_spot
    assert run.named("cluster-alb").inputs["enableDeletionProtection"] is (stack == "prd")
    assert run.named("cluster-alb-logs").protect is (stack == "prd")


def test_http_listener_only_redirects_to_https(platform: ProgramRun) -> None:
    http = platform.named("cluster-http-redirect").inputs
    assert http["port"] == 80
    (action,) = http["defaultActions"]
    assert action["type"] == "redirect"
    assert action["redirect"] == {"port": "443", "protocol": "HTTPS", "statusCode": "HTTP_301"}
    rules = platform.of_type("aws:lb/listenerRule:ListenerRule")
    assert rules
    https = {_https_arn(platform, name) for name in ("cluster-https", "cluster-internal-alb-https")}
    assert {r.inputs["listenerArn"] for r in rules} <= https


def _https_arn(run: ProgramRun, listener: str) -> str:
    return f"arn:aws:elasticloadbalancing:ap-northeast-1:{_account(run)}:listener/{listener}"


def test_https_listener_uses_a_tls13_policy_and_the_certificate(platform: ProgramRun) -> None:
    https = platform.named("cluster-https").inputs
    assert https["protocol"] == "HTTPS"
    assert https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["certificateArn"].startswith(f"arn:aws:acm:ap-northeast-1:{_account(platform)}:certificate/")
    assert https["defaultActions"][0]["type"] == "fixed-response"


def test_listener_rules_route_by_host(platform: ProgramRun) -> None:
    route = platform.named("api-route").inputs
    assert route["priority"] == 100
    assert route["conditions"] == [{"hostHeader": {"values": [f"api.{platform.stack}.acme-payments.jp"]}}]
    target_group = platform.named("api-targets").inputs
    assert target_group["targetType"] == "ip"
    assert target_group["healthCheck"]["path"] == "/healthz"


def test_load_balancer_is_public_hardened_and_logged(platform: ProgramRun) -> None:
    alb = platform.named("cluster-alb")
    assert alb.inputs["internal"] is False
    assert alb.inputs["dropInvalidHeaderFields"] is True
    assert sorted(alb.inputs["subnets"]) == sorted(platform.outputs["publicSubnetIds"])
    logs = alb.inputs["accessLogs"]
    assert logs["enabled"] is True
    assert logs["bucket"] == f"platform-{platform.stack}-alb-logs-{_account(platform)}"
    assert platform.named("cluster-alb-logs-policy").urn in alb.dependencies


def test_access_log_bucket_is_private_encrypted_expiring_and_tls_only(platform: ProgramRun) -> None:
    block = platform.named("cluster-alb-logs-public-access").inputs
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    encryption = platform.named("cluster-alb-logs-encryption").inputs["rules"][0]
    assert encryption["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    lifecycle = platform.named("cluster-alb-logs-lifecycle").inputs["rules"][0]
    kept = config_of(platform).apps.load_balancer.access_log_retention_days
    assert kept >= config_of(platform).profile.min_audit_log_retention_days
    assert lifecycle["expiration"]["days"] == kept
    # Versioned: a deleted or overwritten log stays recoverable for as long as the logs are kept.
    assert platform.named("cluster-alb-logs-versioning").inputs["versioningConfiguration"]["status"] == "Enabled"
    assert lifecycle["noncurrentVersionExpiration"]["noncurrentDays"] == kept
    policy = policy_of(platform.named("cluster-alb-logs-policy").inputs)
    delivery, deny = policy["Statement"]
    assert delivery["Principal"] == {"AWS": "arn:aws:iam::582318560864:root"}
    assert delivery["Action"] == ["s3:PutObject"]
    assert delivery["Resource"][0].endswith(f"/alb/AWSLogs/{_account(platform)}/*")
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_repositories_are_immutable_and_scanned(platform: ProgramRun) -> None:
    repositories = platform.of_type("aws:ecr/repository:Repository")
    assert sorted(r.inputs["name"] for r in repositories) == apps_of(platform)
    for repository in repositories:
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}


def test_cluster_encrypts_and_logs_exec_sessions(platform: ProgramRun) -> None:
    cluster = platform.named("cluster-cluster").inputs
    exec_config = cluster["configuration"]["executeCommandConfiguration"]
    assert exec_config["kmsKeyId"] == f"arn:aws:kms:ap-northeast-1:{_account(platform)}:key/mock-cluster-key"
    assert exec_config["logging"] == "OVERRIDE"
    assert cluster["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    # The transcripts: encrypted by CloudWatch Logs with the cluster key, which lets Logs use it for
    # that one log group (the encryption context names it) and nobody else but through IAM.
    log = exec_config["logConfiguration"]
    assert log["cloudWatchEncryptionEnabled"] is True
    group = platform.named("cluster-exec-logs").inputs
    assert group["name"] == log["cloudWatchLogGroupName"]
    assert group["kmsKeyId"] == exec_config["kmsKeyId"]
    statements = {s["Sid"]: s for s in json.loads(platform.named("cluster-key").inputs["policy"])["Statement"]}
    logs = statements["LogsEncryptsTheExecTranscripts"]
    assert logs["Principal"] == {"Service": "logs.ap-northeast-1.amazonaws.com"}
    assert logs["Condition"] == {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": (
        f"arn:aws:logs:ap-northeast-1:{_account(platform)}:log-group:{group['name']}")}}  # fmt: skip
    assert {"LogsEncryptsTheExecTranscripts", "LogsEncryptsTheWafLogs"} <= set(statements)
    providers = platform.named("cluster-capacity").inputs
    assert providers["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]


@pytest.mark.parametrize(
    ("who", "action", "through", "allowed"),
    [
        ("api-task-role-1a2b3c4", "kms:Decrypt", "", True),  # the SSM agent in a task opens the session
        ("api-task-role-1a2b3c4", "kms:GenerateDataKey", "", False),
        ("platform-{env}-sre", "kms:GenerateDataKey", "", True),  # an operator starts a session
        ("platform-{env}-sre", "kms:Decrypt", "", False),
        ("api-execution-role-1a2b3c4", "kms:Decrypt", "secretsmanager", True),  # the Datadog key, at task start
        ("api-execution-role-1a2b3c4", "kms:Decrypt", "", False),
        ("anyone", "kms:Decrypt", "", False),
        ("anyone", "kms:GenerateDataKey", "", False),
        ("anyone", "kms:CreateGrant", "", False),
        ("anyone", "kms:PutKeyPolicy", "", True),  # the account still administers it
    ],
)
def test_the_cluster_key_is_used_only_by_exec_sessions_and_through_secrets_manager(
    platform: ProgramRun, who: str, action: str, through: str, allowed: bool
) -> None:
    """The worst case for each principal: an identity policy allowing kms:* on every key."""
    from tests.iam_eval import Request, key_allows

    account = _account(platform)
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
    via = {"kms:ViaService": f"{through}.ap-northeast-1.amazonaws.com"} if through else {}
    request = Request(
        principal=f"arn:aws:iam::{account}:role/{who.format(env=platform.stack.split('+')[0])}",
        action=action,
        resource=f"arn:aws:kms:ap-northeast-1:{account}:key/mock-cluster-key",
        context={"kms:CallerAccount": account, **via},
    )
    assert key_allows(request, platform.named("cluster-key").inputs["policy"], [everything]) is allowed


def test_only_staging_lets_developers_open_exec_sessions(stg: ProgramRun, prd: ProgramRun) -> None:
    for run, developers in ((stg, True), (prd, False)):
        statements = {s["Sid"]: s for s in json.loads(run.named("cluster-key").inputs["policy"])["Statement"]}
        operators = statements["OperatorsOpenExecSessions"]["Condition"]["ArnEquals"]["aws:PrincipalArn"]
        developer = f"arn:aws:iam::{_account(run)}:role/platform-{run.stack}-developer"
        assert (developer in operators) is developers


def test_datadog_api_key_is_a_secret_in_secrets_manager(platform: ProgramRun) -> None:
    version = platform.named("cluster-datadog-api-key-value")
    assert version.secret_inputs == ["secretString"]
    assert platform.named("cluster-datadog-api-key").inputs["kmsKeyId"].endswith("key/mock-cluster-key")


def test_no_value_in_the_preview_is_unknown(platform: ProgramRun) -> None:
    from tools.snapshot import build_snapshot

    text = json.dumps(build_snapshot(platform))
    assert "[Unknown]" not in text


def test_app_alert_specs(platform: ProgramRun) -> None:
    from platform_config.alert_catalog import app_alerts

    config = config_of(platform)
    name = f"platform-{platform.stack}-api"
    specs = {s.key: s for s in app_alerts("api", name, f"platform-{platform.stack}", config.apps.services["api"])}
    assert set(specs) == {f"app.api.{k}" for k in ("running-tasks", "cpu", "memory", "5xx-rate", "p95-latency")}
    assert f"targetgroup:targetgroup/{name}/*" in specs["app.api.5xx-rate"].metric
    assert specs["app.api.5xx-rate"].priority == 1
    worker = app_alerts("worker", name, "c", config.apps.services["worker"])
    assert {s.key for s in worker} == {"app.worker.running-tasks", "app.worker.cpu", "app.worker.memory"}


def _account(run: ProgramRun) -> str:
    return {"stg": "210987654321", "prd": "123456789012"}[run.stack]


def _service(apps: dict[str, Any], name: str) -> dict[str, Any]:
    service: dict[str, Any] = apps["services"][name]
    return service


BAD_APPS = [
    pytest.param(
        lambda a: _service(a, "admin").update(memory=8192),
        "platform:apps.services.admin.memory: memory=8192 does not fit cpu=512; Fargate allows 1024-4096",
        id="memory-does-not-fit",
    ),
    pytest.param(
        lambda a: _service(a, "admin").update(memory=3000),
        "platform:apps.services.admin.memory: memory=3000 does not fit cpu=512; "
        "Fargate allows 1024-4096 MiB in steps of 1024",
        id="memory-off-step",
    ),
    pytest.param(
        lambda a: _service(a, "admin").update(cpu=384),
        "platform:apps.services.admin.cpu: cpu=384 is not a Fargate size; use one of 256, 512, 1024",
        id="cpu-not-fargate",
    ),
    pytest.param(
        lambda a: _service(a, "admin")["secrets"].update(X={"database": "ledger", "user": "admin"}),
        "platform:apps.services.admin.secrets.X.database: unknown database 'ledger'; platform:databases has: app, card",
        id="secret-unknown-database",
    ),
    pytest.param(
        lambda a: _service(a, "admin")["secrets"].update(X={"database": "app", "user": "root"}),
        "platform:apps.services.admin.secrets.X.user: database 'app' has no user 'root'",
        id="secret-unknown-user",
    ),
    pytest.param(
        lambda a: _service(a, "admin")["secrets"].update(X={"database": "card", "user": "api"}),
        "platform:apps.services.admin.secrets.X.database: 'admin' is not a client of database 'card'",
        id="secret-of-a-database-the-app-may-not-use",
    ),
    pytest.param(
        lambda a: _service(a, "admin")["secrets"].update(X={"database": "card"}),
        "platform:apps.services.admin.secrets.X: a database secret needs both `database` and `user`",
        id="secret-half-a-reference",
    ),
    pytest.param(
        lambda a: _service(a, "admin").update(routing={"hosts": ["api.prd.acme-payments.jp"], "priority": 300}),
        "platform:apps.services.api.routing: the same hosts and paths as admin",
        id="same-route",
    ),
    pytest.param(
        lambda a: _service(a, "admin")["routing"].update(priority=100),
        "platform:apps.services.api.routing.priority: 100 is also the priority of admin",
        id="priority-clash",
    ),
    pytest.param(
        lambda a: _service(a, "admin")["image"].pop("tag"),
        "platform:apps.services.admin.image.tag: required key is missing",
        id="image-without-tag",
    ),
    pytest.param(
        lambda a: _service(a, "admin")["image"].update(tag="latest"),
        "platform:apps.services.admin.image.tag: 'latest' is not a release",
        id="image-latest",
    ),
    pytest.param(
        lambda a: _service(a, "admin")["environment"].update(STRIPE_API_KEY="sk_live_x"),
        "platform:apps.services.admin.environment.STRIPE_API_KEY: looks like a secret; move it to `secrets`",
        id="secret-in-plain-environment",
    ),
    pytest.param(
        lambda a: _service(a, "worker")["image"].update(repository="billing"),
        "platform:apps.services.worker.image.repository: no app 'billing' owns such a repository",
        id="unknown-image-repository",
    ),
    pytest.param(
        lambda a: _service(a, "admin").pop("port"),
        "platform:apps.services.admin.port: required for an app with `routing`",
        id="routing-without-port",
    ),
    pytest.param(
        lambda a: _service(a, "api").update(desiredCount=50),
        "platform:apps.services.api.desiredCount: 50 is outside autoscaling 3-20",
        id="desired-outside-autoscaling",
    ),
]


@pytest.mark.parametrize(("change", "expected"), BAD_APPS)
def test_bad_app_config_is_rejected_with_its_key(
    stack_values: Callable[[str], dict[str, str]], change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    assert_rejected(stack_values("prd"), "platform:apps", change, expected, stack="prd")


def test_sidecar_images_come_from_ecr_public_through_this_accounts_cache(platform: ProgramRun) -> None:
    """No task needs the internet to start: its sidecars are pulled over the VPC endpoints."""
    account = _account(platform)
    rule = platform.named("cluster-sidecar-cache").inputs
    assert (rule["ecrRepositoryPrefix"], rule["upstreamRegistryUrl"]) == ("ecr-public", "public.ecr.aws")
    template = platform.named("cluster-sidecar-repositories").inputs
    assert template["appliedFors"] == ["PULL_THROUGH_CACHE"]
    assert template["imageTagMutability"] == "IMMUTABLE"
    cached = f"{account}.dkr.ecr.ap-northeast-1.amazonaws.com/ecr-public/"
    for app in apps_of(platform):
        sidecars = [c for name, c in containers(platform, app).items() if name != "app"]
        assert sidecars
        assert all(str(c["image"]).startswith(cached) for c in sidecars), app
        statements = {s["Sid"]: s for s in policy_of(platform.named(f"{app}-execution-policy").inputs)["Statement"]}
        repositories = f"arn:aws:ecr:ap-northeast-1:{account}:repository/ecr-public/*"
        assert repositories in statements["PullImage"]["Resource"]
        assert statements["CacheSidecarImages"]["Resource"] == [repositories]
