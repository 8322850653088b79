"""On-call in PagerDuty: teams, people, weekly rotations, escalation policies and services.

Each service has an Events API v2 integration whose key (a secret) the monitoring component hands
to Datadog, so that `@pagerduty-<service>` in a monitor pages that service. Customer-facing services
page at high urgency at all hours; the others at high urgency in support hours and low outside.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_pagerduty as pagerduty

from components.base import Component, Out
from components.secrets import as_secret
from platform_config.context import StackContext
from platform_config.oncall import OnCallConfig, OnCallService

SUPPORT_DAYS = [1, 2, 3, 4, 5]  # Monday to Friday
GROUPING_WINDOW_SECONDS = 300
"""Alerts on one service within five minutes join one incident: one failure, one page."""


@dataclass(frozen=True, kw_only=True)
class OnCallArgs:
    context: StackContext
    settings: OnCallConfig


@dataclass(frozen=True)
class PagerDutyRoute:
    """What Datadog needs to page a service: its name (the `@pagerduty-<name>` handle) and key."""

    service_name: str
    integration_key: pulumi.Output[str]


class OnCall(Component, token="platform:oncall:OnCall"):
    """PagerDuty teams, schedules, escalation policies and services from the config.

    `routes` (service key -> PagerDutyRoute), `services`, `escalation_policies` and `schedules` are the handles."""

    service_ids: Out[dict[str, pulumi.Output[str]]]

    def __init__(self, name: str, args: OnCallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self._context = ctx = args.context
        settings = args.settings
        self.teams = {
            key: pagerduty.Team(f"{name}-team-{key}", name=key, description=description, opts=self.child())
            for key, description in sorted(settings.teams.items())
        }
        self.users = {}
        for key, user in sorted(settings.users.items()):
            self.users[key] = pagerduty.User(
                f"{name}-user-{key}",
                name=user.name,
                email=user.email,
                role=user.role,
                time_zone=settings.time_zone,
                opts=self.child(),
            )
            pagerduty.TeamMembership(
                f"{name}-member-{key}",
                team_id=self.teams[user.team].id,
                user_id=self.users[key].id,
                role="responder",
                opts=self.child(),
            )
        self.schedules = {
            key: pagerduty.Schedule(
                f"{name}-schedule-{key}",
                name=ctx.physical_name(key),
                time_zone=schedule.time_zone,
                teams=[self.teams[schedule.team].id],
                layers=[
                    pagerduty.ScheduleLayerArgs(
                        name=layer.name,
                        start=layer.start,
                        rotation_virtual_start=layer.start,
                        rotation_turn_length_seconds=layer.rotation_days * 86400,
                        users=[self.users[user].id for user in layer.users],
                    )
                    for layer in schedule.layers
                ],
                opts=self.child(),
            )
            for key, schedule in sorted(settings.schedules.items())
        }
        self.escalation_policies = {
            key: pagerduty.EscalationPolicy(
                f"{name}-escalation-{key}",
                name=ctx.physical_name(key),
                teams=self.teams[policy.team].id,
                num_loops=policy.repeat,
                rules=[
                    pagerduty.EscalationPolicyRuleArgs(
                        escalation_delay_in_minutes=level.delay_minutes,
                        targets=[
                            *(
                                pagerduty.EscalationPolicyRuleTargetArgs(
                                    type="schedule_reference", id=self.schedules[s].id
                                )
                                for s in level.schedules
                            ),
                            *(
                                pagerduty.EscalationPolicyRuleTargetArgs(type="user_reference", id=self.users[u].id)
                                for u in level.users
                            ),
                        ],
                    )
                    for level in policy.levels
                ],
                opts=self.child(),
            )
            for key, policy in sorted(settings.escalation_policies.items())
        }
        self.services: dict[str, pagerduty.Service] = {}
        self.routes: dict[str, PagerDutyRoute] = {}
        for key, service in sorted(settings.services.items()):
            self.services[key], self.routes[key] = self._service(key, service, settings)
        self.service_ids = {key: service.id for key, service in self.services.items()}
        self.finish()

    def _service(
        self, key: str, service: OnCallService, settings: OnCallConfig
    ) -> tuple[pagerduty.Service, PagerDutyRoute]:
        service_name = self._context.physical_name(key)
        support_hours = None
        if service.urgency == "high":
            urgency = pagerduty.ServiceIncidentUrgencyRuleArgs(type="constant", urgency="high")
        else:
            urgency = pagerduty.ServiceIncidentUrgencyRuleArgs(
                type="use_support_hours",
                during_support_hours=pagerduty.ServiceIncidentUrgencyRuleDuringSupportHoursArgs(
                    type="constant", urgency="high"
                ),
                outside_support_hours=pagerduty.ServiceIncidentUrgencyRuleOutsideSupportHoursArgs(
                    type="constant", urgency="low"
                ),
            )
            start, end = settings.support_hours
            support_hours = pagerduty.ServiceSupportHoursArgs(
                type="fixed_time_per_day",
                time_zone=settings.time_zone,
                days_of_weeks=SUPPORT_DAYS,
                start_time=start,
                end_time=end,
            )
        pd_service = pagerduty.Service(
            f"{self._name}-service-{key}",
            name=service_name,
            description=service.description,
            escalation_policy=self.escalation_policies[service.escalation_policy].id,
            acknowledgement_timeout=str(service.acknowledgement_timeout_seconds),
            auto_resolve_timeout=str(service.auto_resolve_timeout_seconds),
            alert_creation="create_alerts_and_incidents",
            alert_grouping_parameters=pagerduty.ServiceAlertGroupingParametersArgs(
                type="time",
                config=pagerduty.ServiceAlertGroupingParametersConfigArgs(timeout=GROUPING_WINDOW_SECONDS // 60),
            ),
            incident_urgency_rule=urgency,
            support_hours=support_hours,
            opts=self.child(),
        )
        integration = pagerduty.ServiceIntegration(
            f"{self._name}-service-{key}-datadog",
            name="Datadog",
            service=pd_service.id,
            type="events_api_v2_inbound_integration",
            opts=self.child(additional_secret_outputs=["integrationKey"]),
        )
        return pd_service, PagerDutyRoute(
            service_name=service_name, integration_key=as_secret(integration.integration_key)
        )
