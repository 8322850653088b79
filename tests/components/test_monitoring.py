"""Monitoring and on-call on the mock runtime: a monitor per spec, routed by environment."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from platform_config import ConfigError, load_platform_config
from platform_config.alert_catalog import alert_catalog
from tests.conftest import assert_rejected, config_of, platform_config, with_area
from tools.mock_runtime import ProgramRun, RecordedResource
from tools.offline import PROJECT_DIR

MONITOR = "datadog:index/monitor:Monitor"


def monitors(run: ProgramRun) -> dict[str, RecordedResource]:
    return {next(t for t in r.inputs["tags"] if t.startswith("alert:"))[6:]: r for r in run.of_type(MONITOR)}


def test_one_monitor_per_alert_spec_of_every_component(platform: ProgramRun) -> None:
    config = config_of(platform)
    found = monitors(platform)
    assert set(found) == {spec.key for spec in alert_catalog(config)}
    for prefix in ("database.app.", "database.card.", "app.api.", "app.admin.", "app.worker.", "mail."):
        assert any(key.startswith(prefix) for key in found), prefix
    for batch in config.batches:
        assert f"batch.{batch}.executions-failed" in found


def test_catalog_is_what_the_components_declare(platform: ProgramRun) -> None:
    assert sorted(platform.outputs["monitors"]) == sorted(spec.key for spec in alert_catalog(config_of(platform)))


def test_every_monitor_has_a_runbook_and_env_service_team_tags(platform: ProgramRun) -> None:
    for key, monitor in monitors(platform).items():
        inputs = monitor.inputs
        assert f"Runbook: https://runbooks.acme-payments.jp/platform/{key}" in inputs["message"]
        tags = set(inputs["tags"])
        assert f"env:{platform.stack}" in tags
        assert any(t.startswith("service:") for t in tags)
        assert "team:platform" in tags
        assert inputs["name"].startswith(f"[{platform.stack}] ")
        assert inputs["type"] == "query alert"
        assert inputs["priority"] in {"1", "2", "3", "4", "5"}


def test_prd_monitors_page_through_pagerduty(prd: ProgramRun) -> None:
    routes = platform_config("prd").monitoring.routing.pagerduty
    for monitor in monitors(prd).values():
        service = next(t for t in monitor.inputs["tags"] if t.startswith("service:"))[8:]
        handle = f"@pagerduty-platform-prd-{routes[service]}"
        message = monitor.inputs["message"]
        assert f"{{{{#is_alert}}}}{handle} @slack-platform-prd{{{{/is_alert}}}}" in message
        assert "{{#is_warning}}@slack-platform-prd{{/is_warning}}" in message


def test_stg_monitors_never_page(stg: ProgramRun) -> None:
    for monitor in monitors(stg).values():
        assert "@pagerduty" not in monitor.inputs["message"]
        assert "@slack-platform-stg" in monitor.inputs["message"]
    assert stg.of_type("pagerduty:index/service:Service") == []
    assert stg.of_type("datadog:pagerduty/serviceObject:ServiceObject") == []


def test_queries_name_the_real_resources(platform: ProgramRun) -> None:
    env = platform.stack
    found = monitors(platform)
    assert f"dbinstanceidentifier:platform-{env}-card" in found["database.card.cpu"].inputs["query"]
    assert f"queuename:platform-{env}-inbound-mail-dlq" in found["mail.dlq-depth"].inputs["query"]
    assert f"loadbalancer:app/platform-{env}-public/*" in found["cluster.alb.elb-5xx"].inputs["query"]
    assert f"targetgroup:targetgroup/platform-{env}-api/*" in found["app.api.5xx-rate"].inputs["query"]
    assert f"statemachine:platform-{env}-settlement" in found["batch.settlement.executions-failed"].inputs["query"]
    assert f"servicename:platform-{env}-worker" in found["app.worker.running-tasks"].inputs["query"]


def test_cloudwatch_monitors_wait_for_late_metrics(platform: ProgramRun) -> None:
    for monitor in monitors(platform).values():
        assert monitor.inputs["evaluationDelay"] == 900


def test_threshold_overrides_apply(prd: ProgramRun, stg: ProgramRun) -> None:
    card = monitors(prd)["database.card.cpu"].inputs
    assert card["query"].endswith("> 80")
    assert card["monitorThresholds"] == {"critical": "80", "warning": "65"}
    assert monitors(stg)["database.card.cpu"].inputs["query"].endswith("> 90")


def test_every_pagerduty_service_has_an_escalation_policy(prd: ProgramRun) -> None:
    services = prd.of_type("pagerduty:index/service:Service")
    assert sorted(s.inputs["name"] for s in services) == [
        "platform-prd-api", "platform-prd-backoffice", "platform-prd-batch",
        "platform-prd-database", "platform-prd-mail",
    ]  # fmt: skip
    policies = {f"{p.name}-id" for p in prd.of_type("pagerduty:index/escalationPolicy:EscalationPolicy")}
    for service in services:
        assert service.inputs["escalationPolicy"] in policies
    for policy in prd.of_type("pagerduty:index/escalationPolicy:EscalationPolicy"):
        assert policy.inputs["rules"]
        assert all(rule["targets"] for rule in policy.inputs["rules"])


def test_customer_facing_services_page_at_all_hours(prd: ProgramRun) -> None:
    api = prd.named("oncall-service-api").inputs
    assert api["incidentUrgencyRule"] == {"type": "constant", "urgency": "high"}
    batch = prd.named("oncall-service-batch").inputs
    assert batch["incidentUrgencyRule"]["type"] == "use_support_hours"
    assert batch["incidentUrgencyRule"]["outsideSupportHours"]["urgency"] == "low"
    assert batch["supportHours"]["timeZone"] == "Asia/Tokyo"


def test_schedules_rotate_the_configured_users(prd: ProgramRun) -> None:
    schedule = prd.named("oncall-schedule-sre-primary").inputs
    (layer,) = schedule["layers"]
    assert layer["users"] == [
        "oncall-user-aoki-id",
        "oncall-user-ito-id",
        "oncall-user-sato-id",
        "oncall-user-tanaka-id",
    ]
    assert layer["rotationTurnLengthSeconds"] == 7 * 86400
    assert schedule["timeZone"] == "Asia/Tokyo"


def test_integration_keys_are_secret(prd: ProgramRun) -> None:
    objects = prd.of_type("datadog:pagerduty/serviceObject:ServiceObject")
    assert len(objects) == 5
    for service_object in objects:
        assert service_object.secret_inputs == ["serviceKey"]
    for integration in prd.of_type("pagerduty:index/serviceIntegration:ServiceIntegration"):
        assert "integrationKey" in integration.additional_secret_outputs
        assert integration.inputs["type"] == "events_api_v2_inbound_integration"


def test_monitors_wait_for_the_pagerduty_services_they_name(prd: ProgramRun) -> None:
    service_objects = {r.urn for r in prd.of_type("datadog:pagerduty/serviceObject:ServiceObject")}
    for monitor in monitors(prd).values():
        assert service_objects <= set(monitor.dependencies)


def test_datadog_integration_role_trusts_datadog_with_the_external_id(platform: ProgramRun) -> None:
    import json

    role = platform.named("monitoring-datadog-role")
    assert role.secret_inputs == ["assumeRolePolicy"]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"AWS": "arn:aws:iam::464622532012:root"}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": "offline-secret:platform:datadogExternalId"}}
    integration = platform.named("monitoring-aws-integration").inputs
    assert (
        integration["authConfig"]["awsAuthConfigRole"]["roleName"] == f"platform-{platform.stack}-datadog-integration"
    )
    assert integration["awsRegions"] == {"includeOnlies": ["ap-northeast-1", "us-east-1"]}
    read = json.loads(platform.named("monitoring-datadog-read").inputs["policy"])["Statement"][0]
    assert not any(a == "*" or a.endswith(":*") for a in read["Action"])


def test_datadog_and_pagerduty_use_explicit_providers(platform: ProgramRun) -> None:
    for resource in platform.resources:
        if resource.custom and resource.type.split(":")[0] in {"datadog", "pagerduty"}:
            assert resource.provider, resource.name


def test_only_the_monitoring_module_imports_datadog() -> None:
    code = (
        "import sys; import composition.platform, platform_config, platform_config.alert_catalog, tools.preview;"
        "assert 'pulumi_datadog' not in sys.modules, 'imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    importers = {
        path.name
        for path in (PROJECT_DIR / "components").rglob("*.py")
        if re.search(r"^\s*(import|from) pulumi_datadog\b", path.read_text(), re.MULTILINE)
    }
    assert importers == {"monitoring.py"}


def test_an_alert_key_given_twice_is_an_error() -> None:
    """Two monitors with one key would fight over one Datadog monitor name: refused before any exists."""
    from components.monitoring import Monitoring, MonitoringArgs
    from platform_config.context import StackContext
    from tests.conftest import run_component

    config = platform_config("stg")
    spec = alert_catalog(config)[0]

    def build() -> None:
        Monitoring(
            "monitoring",
            MonitoringArgs(
                context=StackContext.from_config(config), settings=config.monitoring, team="t", alerts=[spec, spec]
            ),
        )

    with pytest.raises(ValueError, match=f"declared twice: {re.escape(spec.key)}"):
        run_component(build)


BAD = [
    pytest.param(
        "platform:monitoring",
        lambda m: m["routing"]["pagerduty"].update(mail="email"),
        "platform:monitoring.routing.pagerduty.mail: unknown PagerDuty service 'email'",
        id="route-to-unknown-pagerduty-service",
    ),
    pytest.param(
        "platform:monitoring",
        lambda m: m["routing"]["pagerduty"].pop("mail"),
        "platform:monitoring.routing.pagerduty: alerts of service 'mail' have no route",
        id="prd-service-without-route",
    ),
    pytest.param(
        "platform:oncall",
        lambda o: o["schedules"]["payments"]["layers"][0].update(users=[]),
        "platform:oncall.schedules.payments.layers[0].users: a rotation needs at least one user",
        id="schedule-without-users",
    ),
    pytest.param(
        "platform:oncall",
        lambda o: o["escalationPolicies"]["payments"].update(levels=[]),
        "platform:oncall.escalationPolicies.payments.levels: an escalation policy needs at least one level",
        id="escalation-policy-without-levels",
    ),
    pytest.param(
        "platform:monitoring",
        lambda m: m.update(datadogSite="datadoghq.jp"),
        "platform:monitoring.datadogSite: must be 'datadoghq.com'",
        id="unknown-datadog-site",
    ),
    pytest.param(
        "platform:monitoring",
        lambda m: m["overrides"].update({"database.ledger.cpu": {"critical": 50}}),
        "platform:monitoring.overrides.database.ledger.cpu: no alert has this key",
        id="override-for-unknown-spec",
    ),
    pytest.param(
        "platform:oncall",
        lambda o: o["services"]["mail"].update(escalationPolicy="night"),
        "platform:oncall.services.mail.escalationPolicy: unknown escalation policy 'night'",
        id="service-with-unknown-policy",
    ),
    pytest.param(
        "platform:oncall",
        lambda o: o["schedules"]["payments"]["layers"][0].update(users=["nobody"]),
        "platform:oncall.schedules.payments.layers[0].users: unknown user 'nobody'",
        id="schedule-with-unknown-user",
    ),
]


@pytest.mark.parametrize(("key", "change", "expected"), BAD)
def test_bad_monitoring_config_is_rejected_with_its_key(
    stack_values: Callable[[str], dict[str, str]], key: str, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    assert_rejected(stack_values("prd"), key, change, expected, stack="prd")


def test_staging_may_not_page(stack_values: Callable[[str], dict[str, str]]) -> None:
    values = with_area(
        stack_values("stg"), "platform:monitoring", lambda m: m["routing"].update(pagerduty={"api": "api"})
    )
    with pytest.raises(ConfigError, match=r"platform:monitoring\.routing\.pagerduty: stg must not page anyone"):
        load_platform_config(values, stack="stg")
