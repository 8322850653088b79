"""Every alert spec of a stack, computed from its config alone.

The components declare their specs with the same pure functions (`db.alerts()` calls
`database_alerts(...)`), so this catalog is what the monitoring component will receive; the config
check uses it to reject a threshold override for an alert that does not exist, before any resource
is registered. A test keeps the catalog and the components' specs equal.
"""

from __future__ import annotations

from components.alerts import AlertSpec
from components.config.model import PlatformConfig
from components.context import StackContext


def alert_catalog(config: PlatformConfig) -> list[AlertSpec]:
    from components.batches import schedule_dlq_alert
    from components.cluster import load_balancer_alerts
    from components.cron_batch import batch_alerts
    from components.database import database_alerts
    from components.ecs_app import app_alerts
    from components.mail import mail_alerts

    ctx = StackContext.from_config(config)
    cluster_name = ctx.physical_name()
    specs = load_balancer_alerts(ctx.physical_name("public", max_length=32))
    for name, db in sorted(config.databases.items()):
        specs += database_alerts(name, ctx.physical_name(name), db)
    for name, app in sorted(config.apps.services.items()):
        specs += app_alerts(name, ctx.physical_name(name), cluster_name, app)
    for name, batch in sorted(config.batches.items()):
        arn = ctx.arn("states", f"stateMachine:{ctx.physical_name(name)}")
        specs += batch_alerts(name, ctx.physical_name(name), arn, batch)
    if config.batches:
        specs.append(schedule_dlq_alert(ctx))
    if config.mail is not None:
        specs += mail_alerts(ctx, config.mail)
    return specs


def alerting_services(config: PlatformConfig) -> set[str]:
    return {spec.service for spec in alert_catalog(config)}
