"""Rules across fields and areas, run once every area has parsed. Each issue names its exact key."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from ipaddress import IPv4Network
from typing import Protocol

from platform_config.alert_catalog import alert_catalog
from platform_config.apps import FARGATE_SIZES, AppConfig, SecretSource
from platform_config.base import ConfigIssue, key_path
from platform_config.databases import window_minutes
from platform_config.mail import (
    LEASE_MARGIN_SECONDS,
    SES_RECEIVING_REGIONS,
    lease_visibility_timeout,
    minimum_visibility_timeout,
)
from platform_config.model import NAMESPACE, PlatformConfig
from platform_config.monitoring import ThresholdOverride
from platform_config.oncall import OnCallConfig
from platform_lib.alerts import AlertSpec
from platform_lib.aws_limits import (
    CERTIFICATE_ARN,
    HOST_HEADER,
    LISTENER_CONDITION_VALUES_MAX,
    PATH_PATTERN,
    SES_RECIPIENTS_PER_RULE_MAX,
    SIDECAR_RESERVE_BYTES,
    SQS_BATCH_SIZE_WITHOUT_WINDOW,
    TASK_DEFINITION_MAX_BYTES,
)
from platform_lib.schedules import schedule_problem, time_zone_problem
from platform_lib.secret_names import SECRET_LIKE
from platform_lib.subnet_plan import check_layout

MAIL_CLIENT = "mail-processor"
"""The database client name of the mail processing task."""


def _check_network(config: PlatformConfig) -> list[ConfigIssue]:
    prefix = f"{NAMESPACE}:network"
    net = config.network
    problems = check_layout(net.vpc_cidr, net.layout(), config.region, path_of=lambda parts: key_path(prefix, *parts))
    return [ConfigIssue(key_path(prefix, *p.parts), p.message) for p in problems]


def _check_audit_retention(config: PlatformConfig) -> list[ConfigIssue]:
    minimum = config.profile.min_audit_log_retention_days
    kept = config.apps.load_balancer.access_log_retention_days
    if kept >= minimum:
        return []
    return [
        ConfigIssue(
            f"{NAMESPACE}:apps.loadBalancer.accessLogRetentionDays",
            f"{kept} days is below the {config.environment} minimum of {minimum} for an audit trail"
            + (" (PCI DSS v4 10.5.1: 12 months of history)" if config.environment == "prd" else ""),
        )
    ]


def _check_databases(config: PlatformConfig) -> list[ConfigIssue]:
    issues = []
    for name, db in config.databases.items():
        at = f"{NAMESPACE}:databases.{name}"
        if db.max_allocated_storage_gb < db.allocated_storage_gb:
            issues.append(
                ConfigIssue(
                    f"{at}.maxAllocatedStorageGb",
                    f"{db.max_allocated_storage_gb} is below allocatedStorageGb {db.allocated_storage_gb}",
                )
            )
        minimum = config.profile.min_backup_retention_days
        if db.backup_retention_days < minimum:
            issues.append(
                ConfigIssue(
                    f"{at}.backupRetentionDays",
                    f"{db.backup_retention_days} days is below the {config.environment} minimum of {minimum}"
                    + ("; production databases must keep automated backups" if config.environment == "prd" else ""),
                )
            )
        if window_minutes(db.backup_window, weekly=False) & window_minutes(db.maintenance_window, weekly=True):
            issues.append(
                ConfigIssue(
                    f"{at}.backupWindow",
                    f"{db.backup_window} overlaps maintenanceWindow {db.maintenance_window}; RDS requires them apart",
                )
            )
        seen: dict[str, int] = {}
        known_schemas = {"public", *db.schemas}
        for index, user in enumerate(db.users):
            if user.name in seen:
                issues.append(
                    ConfigIssue(
                        f"{at}.users[{index}].name",
                        f"user {user.name!r} is defined twice (also users[{seen[user.name]}])",
                    )
                )
            seen.setdefault(user.name, index)
            issues.extend(
                ConfigIssue(
                    f"{at}.users[{index}].schemas",
                    f"unknown schema {schema!r}; {at}.schemas has: {', '.join(sorted(known_schemas))}",
                )
                for schema in user.schemas
                if schema not in known_schemas
            )
        owners = [user.name for user in db.users if user.role == "owner"]
        if len(owners) != 1:
            issues.append(
                ConfigIssue(
                    f"{at}.users", f"needs exactly one user with role 'owner' (the migrator), found {owners or 'none'}"
                )
            )
    return issues


"""Rules across fields or areas, run once every area has parsed."""


def _check_apps(config: PlatformConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    services = config.apps.services
    issues += _shared_routing(services)
    issues += _check_certificate(config, "loadBalancer.certificateArn", config.apps.load_balancer.certificate_arn)
    for name, app in sorted(services.items()):
        at = f"{NAMESPACE}:apps.services.{name}"
        issues += _check_size(at, app)
        if app.routing is not None:
            if app.port is None:
                issues.append(ConfigIssue(f"{at}.port", "required for an app with `routing` (the container port)"))
            issues += _check_conditions(f"{at}.routing", app.routing.hosts, app.routing.paths)
        if app.autoscaling is not None and not app.autoscaling.min <= app.desired_count <= app.autoscaling.max:
            issues.append(
                ConfigIssue(
                    f"{at}.desiredCount",
                    f"{app.desired_count} is outside autoscaling {app.autoscaling.min}-{app.autoscaling.max}",
                )
            )
        if app.image.repository is not None and app.image.repository not in services:
            issues.append(
                ConfigIssue(
                    f"{at}.image.repository",
                    f"no app {app.image.repository!r} owns such a repository; apps: {', '.join(sorted(services))}",
                )
            )
        issues += _check_environment(at, app)
        issues += check_secret_sources(config, at, name, app.secrets)
    issues += _check_owner("loadBalancer.owner", config.apps.load_balancer.owner, services, internal=False)
    issues += _check_internal(config)
    return issues


def _check_owner(key: str, owner: str, services: Mapping[str, AppConfig], *, internal: bool) -> list[ConfigIssue]:
    """A load balancer's owner is one of the web apps it serves."""
    web_apps = sorted(name for name, app in services.items() if app.routing is not None and app.internal == internal)
    if owner in web_apps:
        return []
    side = "internal" if internal else "public"
    return [
        ConfigIssue(
            f"{NAMESPACE}:apps.{key}",
            f"{owner!r} is not {'an' if internal else 'a'} {side} app with `routing`; "
            f"{side} web apps: {', '.join(web_apps) or 'none'}",
        )
    ]


def _check_internal(config: PlatformConfig) -> list[ConfigIssue]:
    """Internal apps need routing and the internal load balancer; that load balancer needs an owner."""
    services, internal = config.apps.services, config.apps.load_balancer.internal
    issues = [
        ConfigIssue(
            f"{NAMESPACE}:apps.services.{name}.internal",
            "only an app with `routing` is served by a load balancer (an app without it is unreachable already)",
        )
        for name, app in sorted(services.items())
        if app.internal and app.routing is None
    ]
    internal_apps = sorted(name for name, app in services.items() if app.internal and app.routing is not None)
    if internal is None:
        if internal_apps:
            issues.append(
                ConfigIssue(
                    f"{NAMESPACE}:apps.loadBalancer.internal",
                    f"required: {', '.join(internal_apps)} {'is' if len(internal_apps) == 1 else 'are'} internal; "
                    "give `allowedCidrs` (the operator networks) and `owner`",
                )
            )
        return issues
    issues += _check_owner("loadBalancer.internal.owner", internal.owner, services, internal=True)
    vpc = config.network.vpc_cidr
    issues += [
        ConfigIssue(
            f"{NAMESPACE}:apps.loadBalancer.internal.allowedCidrs[{index}]",
            f"{cidr} overlaps the VPC {vpc}: every task in it would reach the internal apps; "
            "name the operators' networks only",
        )
        for index, cidr in enumerate(internal.allowed_cidrs)
        if IPv4Network(cidr).overlaps(vpc)
    ]
    if internal.certificate_arn is not None:
        issues += _check_certificate(config, "loadBalancer.internal.certificateArn", internal.certificate_arn)
    return issues


def _shared_routing(services: Mapping[str, AppConfig]) -> list[ConfigIssue]:
    """A priority or a host/path set used twice: each app involved is named, with the others."""
    by_priority: dict[int, list[str]] = {}
    by_route: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for name, app in sorted(services.items()):
        if app.routing is not None:
            by_priority.setdefault(app.routing.priority, []).append(name)
            by_route.setdefault((tuple(sorted(app.routing.hosts)), tuple(sorted(app.routing.paths))), []).append(name)
    issues = []
    for priority, names in by_priority.items():
        issues += _shared(
            names, "routing.priority", f"{priority} is also the priority of {{others}}; priorities are unique"
        )
    for names in by_route.values():
        issues += _shared(
            names, "routing", "the same hosts and paths as {others}; only the lower priority would ever match"
        )
    return issues


def _shared(names: list[str], key: str, message: str) -> list[ConfigIssue]:
    """One issue per app of `names` when there are several, naming the others."""
    if len(names) < 2:
        return []
    return [
        ConfigIssue(
            f"{NAMESPACE}:apps.services.{name}.{key}",
            message.format(others=", ".join(other for other in names if other != name)),
        )
        for name in names
    ]


def _check_conditions(at: str, hosts: tuple[str, ...], paths: tuple[str, ...]) -> list[ConfigIssue]:
    issues = [
        ConfigIssue(
            f"{at}.hosts[{index}]",
            f"{host!r}: a host condition is up to 128 of A-Z a-z 0-9 - . * ? "
            "(a non-ASCII name in its punycode xn-- form)",
        )
        for index, host in enumerate(hosts)
        if not HOST_HEADER.match(host)
    ]
    issues += [
        ConfigIssue(f"{at}.paths[{index}]", f"{path!r}: a path condition is up to 128 characters, starting with /")
        for index, path in enumerate(paths)
        if not PATH_PATTERN.match(path) or not path.startswith("/")
    ]
    if len(hosts) + len(paths) > LISTENER_CONDITION_VALUES_MAX:
        issues.append(
            ConfigIssue(
                at,
                f"{len(hosts) + len(paths)} hosts and paths; a listener rule takes at most "
                f"{LISTENER_CONDITION_VALUES_MAX} condition values",
            )
        )
    return issues


def _check_certificate(config: PlatformConfig, key: str, arn: str) -> list[ConfigIssue]:
    found = CERTIFICATE_ARN.match(arn)
    if found is None:
        return []
    at = f"{NAMESPACE}:apps.{key}"
    issues = []
    if found["region"] != config.region:
        issues.append(
            ConfigIssue(at, f"is in {found['region']}; the load balancer is in {config.region} (ACM is regional)")
        )
    if found["account"] != config.general.account_id:
        issues.append(
            ConfigIssue(at, f"is in account {found['account']}, not this stack's {config.general.account_id}")
        )
    return issues


class _Sized(Protocol):
    @property
    def cpu(self) -> int: ...
    @property
    def memory(self) -> int: ...


class _WithEnvironment(Protocol):
    @property
    def environment(self) -> dict[str, str]: ...
    @property
    def secrets(self) -> dict[str, SecretSource]: ...
    @property
    def command(self) -> tuple[str, ...] | None: ...


def _check_size(at: str, app: _Sized) -> list[ConfigIssue]:
    if app.cpu not in FARGATE_SIZES:
        return [
            ConfigIssue(
                f"{at}.cpu", f"cpu={app.cpu} is not a Fargate size; use one of {', '.join(map(str, FARGATE_SIZES))}"
            )
        ]
    allowed = FARGATE_SIZES[app.cpu]
    if app.memory not in allowed:
        step = allowed[1] - allowed[0]
        return [
            ConfigIssue(
                f"{at}.memory",
                f"memory={app.memory} does not fit cpu={app.cpu}; "
                f"Fargate allows {allowed[0]}-{allowed[-1]} MiB in steps of {step}",
            )
        ]
    return []


def _check_environment(at: str, app: _WithEnvironment) -> list[ConfigIssue]:
    issues = [
        ConfigIssue(f"{at}.environment.{env}", "looks like a secret; move it to `secrets` (Secrets Manager)")
        for env in sorted(app.environment)
        if SECRET_LIKE.search(env)
    ]
    issues += [
        ConfigIssue(f"{at}.secrets.{env}", "is also in `environment`; a variable has one source")
        for env in sorted(set(app.environment) & set(app.secrets))
    ]
    size = len(json.dumps({"environment": app.environment, "command": app.command, "secrets": sorted(app.secrets)}))
    budget = TASK_DEFINITION_MAX_BYTES - SIDECAR_RESERVE_BYTES
    if size > budget:
        issues.append(
            ConfigIssue(
                f"{at}.environment",
                f"environment and command take {size} bytes; a task definition is at most 64 KiB, of which "
                f"{budget} are left for them (put large settings in S3 or Secrets Manager)",
            )
        )
    return issues


def check_secret_sources(
    config: PlatformConfig, at: str, client: str, secrets: Mapping[str, SecretSource]
) -> list[ConfigIssue]:
    """Database secrets must name a known database and user, and the client must be allowed to connect."""
    issues = []
    for env, source in sorted(secrets.items()):
        if source.database is None:
            continue
        path = f"{at}.secrets.{env}"
        database = config.databases.get(source.database)
        if database is None:
            known = ", ".join(sorted(config.databases)) or "none"
            issues.append(
                ConfigIssue(
                    f"{path}.database", f"unknown database {source.database!r}; platform:databases has: {known}"
                )
            )
            continue
        users = [user.name for user in database.users]
        if source.user not in users:
            issues.append(
                ConfigIssue(
                    f"{path}.user",
                    f"database {source.database!r} has no user {source.user!r}; it has: {', '.join(users)}",
                )
            )
        if client not in database.clients:
            issues.append(
                ConfigIssue(
                    f"{path}.database",
                    f"{client!r} is not a client of database {source.database!r}; "
                    f"add it to platform:databases.{source.database}.clients",
                )
            )
    return issues


def _check_batches(config: PlatformConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    apps = config.apps.services
    for name, batch in sorted(config.batches.items()):
        at = f"{NAMESPACE}:batches.{name}"
        if (batch.app is None) == (batch.image is None):
            issues.append(ConfigIssue(at, "give exactly one of `app` (reuse an app's image) and `image`"))
        if batch.app is not None and batch.app not in apps:
            issues.append(ConfigIssue(f"{at}.app", f"unknown app {batch.app!r}; apps: {', '.join(sorted(apps))}"))
        if batch.image is not None and batch.image.repository not in apps:
            issues.append(
                ConfigIssue(
                    f"{at}.image.repository",
                    f"a batch runs an app's repository; {batch.image.repository!r} is not one of "
                    + ", ".join(sorted(apps)),
                )
            )
        problem = schedule_problem(batch.schedule)
        if problem:
            issues.append(ConfigIssue(f"{at}.schedule", f"{batch.schedule!r}: {problem}"))
        problem = time_zone_problem(batch.time_zone)
        if problem:
            issues.append(ConfigIssue(f"{at}.timeZone", problem))
        issues += [
            ConfigIssue(
                f"{at}.input.{key}", f"collides with environment.{key}; input-driven variables come from the execution"
            )
            for key in sorted(set(batch.input) & set(batch.environment))
        ]
        issues += [
            ConfigIssue(f"{at}.input.{key}", f"collides with secrets.{key}")
            for key in sorted(set(batch.input) & set(batch.secrets))
        ]
        issues += _check_size(at, batch)
        issues += _check_environment(at, batch)
        issues += check_secret_sources(config, at, name, batch.secrets)
    return issues


def _check_clients(config: PlatformConfig) -> list[ConfigIssue]:
    """Every database client is an app or a batch, and no name is both."""
    apps, batches = set(config.apps.services), set(config.batches) | ({MAIL_CLIENT} if config.mail else set())
    issues = [
        ConfigIssue(f"{NAMESPACE}:batches.{name}", "is also the name of an app; clients are named uniquely")
        for name in sorted(apps & batches)
    ]
    for db_name, database in sorted(config.databases.items()):
        issues += [
            ConfigIssue(
                f"{NAMESPACE}:databases.{db_name}.clients[{index}]",
                f"{client!r} is neither an app nor a batch",
            )
            for index, client in enumerate(database.clients)
            if client not in apps | batches
        ]
    return issues


def _check_mail(config: PlatformConfig) -> list[ConfigIssue]:
    mail = config.mail
    if mail is None:
        return []
    at = f"{NAMESPACE}:mail"
    issues = []
    if mail.region not in SES_RECEIVING_REGIONS:
        issues.append(
            ConfigIssue(
                f"{at}.region",
                f"SES does not receive mail in {mail.region}; use one of {', '.join(sorted(SES_RECEIVING_REGIONS))}",
            )
        )
    issues += [
        ConfigIssue(f"{at}.recipients[{index}]", f"{recipient!r} is not an address of {mail.domain}")
        for index, recipient in enumerate(mail.recipients)
        if not _in_domain(recipient, mail.domain)
    ]
    if len(mail.recipients) > SES_RECIPIENTS_PER_RULE_MAX:
        issues.append(
            ConfigIssue(
                f"{at}.recipients",
                f"{len(mail.recipients)} recipients; an SES receipt rule takes at most {SES_RECIPIENTS_PER_RULE_MAX} "
                "(a whole domain counts as one)",
            )
        )
    dispatcher = mail.dispatcher
    if dispatcher.batch_size > SQS_BATCH_SIZE_WITHOUT_WINDOW and dispatcher.batching_window_seconds < 1:
        issues.append(
            ConfigIssue(
                f"{at}.dispatcher.batchSize",
                f"{dispatcher.batch_size} needs batchingWindowSeconds of at least 1; without a window Lambda "
                f"takes at most {SQS_BATCH_SIZE_WITHOUT_WINDOW} SQS messages per batch",
            )
        )
    minimum = minimum_visibility_timeout(mail.dispatcher)
    if mail.queue_visibility_timeout_seconds is not None and mail.queue_visibility_timeout_seconds < minimum:
        issues.append(
            ConfigIssue(
                f"{at}.queueVisibilityTimeoutSeconds",
                f"{mail.queue_visibility_timeout_seconds} is below {minimum}: a redelivery must come after "
                f"6 x {at}.dispatcher.timeoutSeconds ({mail.dispatcher.timeout_seconds}) + batchingWindowSeconds "
                f"({mail.dispatcher.batching_window_seconds}), and after a dead invocation's claim lease "
                f"(window + 2 x timeout + {LEASE_MARGIN_SECONDS} s = {lease_visibility_timeout(mail.dispatcher) - 1}), "
                "or the message could be lost; raise it or lower the dispatcher timeout",
            )
        )
    task = mail.processing_task
    if task.app not in config.apps.services:
        issues.append(ConfigIssue(f"{at}.processingTask.app", f"unknown app {task.app!r}"))
    issues += _check_size(f"{at}.processingTask", task)
    issues += _check_environment(f"{at}.processingTask", task)
    issues += check_secret_sources(config, f"{at}.processingTask", MAIL_CLIENT, task.secrets)
    return issues


def _in_domain(address: str, domain: str) -> bool:
    """`x@domain`, or a whole domain or subdomain as SES recipients allow."""
    target = address.rsplit("@", 1)[-1].lower()
    return target == domain or target.endswith(f".{domain}")


def _check_monitoring(config: PlatformConfig) -> list[ConfigIssue]:
    at = f"{NAMESPACE}:monitoring"
    monitoring, oncall = config.monitoring, config.oncall
    specs = alert_catalog(config)
    keys = {spec.key for spec in specs}
    issues = [
        ConfigIssue(
            f"{at}.overrides.{key}", f"no alert has this key; alerts are e.g. {', '.join(sorted(keys)[:4])}, ..."
        )
        for key in sorted(monitoring.overrides)
        if key not in keys
    ]
    issues += _check_thresholds(at, monitoring.overrides, {spec.key: spec for spec in specs})
    if monitoring.routing is None:
        return [*issues, ConfigIssue(f"{at}.routing", "required: where alerts go (`chat`, and in prd `pagerduty`)")]
    routes = monitoring.routing.pagerduty
    pagerduty_services = set(oncall.services) if oncall is not None and oncall.enabled else set()
    issues += [
        ConfigIssue(
            f"{at}.routing.pagerduty.{source}",
            f"unknown PagerDuty service {target!r}; "
            f"platform:oncall.services has: {', '.join(sorted(pagerduty_services)) or 'none'}",
        )
        for source, target in sorted(routes.items())
        if target not in pagerduty_services
    ]
    if config.environment == "prd":
        issues += [
            ConfigIssue(
                f"{at}.routing.pagerduty", f"alerts of service {service!r} have no route; production alerts must page"
            )
            for service in sorted({spec.service for spec in specs} - set(routes))
        ]
    elif routes:
        issues.append(ConfigIssue(f"{at}.routing.pagerduty", f"{config.environment} must not page anyone; use `chat`"))
    return issues


def _check_thresholds(
    at: str, overrides: Mapping[str, ThresholdOverride], specs: Mapping[str, AlertSpec]
) -> list[ConfigIssue]:
    """Datadog refuses a warning threshold on the far side of the critical one (for `>`, warning < critical)."""
    issues = []
    for key, override in sorted(overrides.items()):
        spec = specs.get(key)
        if spec is None:
            continue
        critical = spec.critical if override.critical is None else override.critical
        warning = spec.warning if override.warning is None else override.warning
        if warning is None:
            continue
        above = spec.comparator in (">", ">=")
        if (above and warning >= critical) or (not above and warning <= critical):
            side = "below" if above else "above"
            issues.append(
                ConfigIssue(
                    f"{at}.overrides.{key}",
                    f"warning {warning:g} must be {side} critical {critical:g} (the alert fires on {spec.comparator})",
                )
            )
    return issues


def _check_oncall(config: PlatformConfig) -> list[ConfigIssue]:
    oncall = config.oncall
    if oncall is None or not oncall.enabled:
        return []
    at = f"{NAMESPACE}:oncall"
    issues: list[ConfigIssue] = []
    teams, users = set(oncall.teams), set(oncall.users)
    zone_problem = time_zone_problem(oncall.time_zone)
    if zone_problem:
        issues.append(ConfigIssue(f"{at}.timeZone", zone_problem))
    emails: dict[str, str] = {}
    for key, user in sorted(oncall.users.items()):
        if user.team not in teams:
            issues.append(ConfigIssue(f"{at}.users.{key}.team", f"unknown team {user.team!r}"))
        email = user.email.lower()
        if email in emails:
            issues.append(
                ConfigIssue(
                    f"{at}.users.{key}.email",
                    f"{user.email} is also the email of {emails[email]}; PagerDuty emails are unique, ignoring case",
                )
            )
        emails.setdefault(email, key)
    for key, schedule in sorted(oncall.schedules.items()):
        if schedule.team not in teams:
            issues.append(ConfigIssue(f"{at}.schedules.{key}.team", f"unknown team {schedule.team!r}"))
        problem = time_zone_problem(schedule.time_zone)
        if problem:
            issues.append(ConfigIssue(f"{at}.schedules.{key}.timeZone", problem))
        for index, layer in enumerate(schedule.layers):
            try:
                datetime.fromisoformat(layer.start)
            except ValueError:
                issues.append(
                    ConfigIssue(
                        f"{at}.schedules.{key}.layers[{index}].start",
                        f"{layer.start!r} is not a date and time (e.g. 2026-12-07T10:00:00+09:00)",
                    )
                )
            if not layer.users:
                issues.append(
                    ConfigIssue(f"{at}.schedules.{key}.layers[{index}].users", "a rotation needs at least one user")
                )
            issues += [
                ConfigIssue(f"{at}.schedules.{key}.layers[{index}].users", f"unknown user {user!r}")
                for user in layer.users
                if user not in users
            ]
    issues += _check_escalation(oncall, at)
    return issues


def _check_escalation(oncall: OnCallConfig, at: str) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    schedules, users = set(oncall.schedules), set(oncall.users)
    for key, policy in sorted(oncall.escalation_policies.items()):
        if not policy.levels:
            issues.append(
                ConfigIssue(f"{at}.escalationPolicies.{key}.levels", "an escalation policy needs at least one level")
            )
        for index, level in enumerate(policy.levels):
            where = f"{at}.escalationPolicies.{key}.levels[{index}]"
            if not level.schedules and not level.users:
                issues.append(ConfigIssue(where, "a level needs `schedules` or `users` to notify"))
            issues += [
                ConfigIssue(f"{where}.schedules", f"unknown schedule {s!r}")
                for s in level.schedules
                if s not in schedules
            ]
            issues += [ConfigIssue(f"{where}.users", f"unknown user {u!r}") for u in level.users if u not in users]
    for key, service in sorted(oncall.services.items()):
        if service.escalation_policy not in oncall.escalation_policies:
            issues.append(
                ConfigIssue(
                    f"{at}.services.{key}.escalationPolicy", f"unknown escalation policy {service.escalation_policy!r}"
                )
            )
    return issues


Check = Callable[[PlatformConfig], list[ConfigIssue]]
CHECKS: list[Check] = [
    _check_network, _check_databases, _check_apps, _check_batches, _check_clients, _check_mail, _check_oncall,
    _check_monitoring, _check_audit_retention,
]  # fmt: skip
