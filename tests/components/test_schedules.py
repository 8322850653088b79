"""Schedule expressions: a table of what EventBridge Scheduler accepts and rejects."""

from __future__ import annotations

import pytest

from platform_lib.schedules import schedule_problem, time_zone_problem

VALID = [
    "cron(5 15 * * ? *)",
    "cron(0 4 * * ? *)",
    "cron(0 6 1 * ? *)",
    "cron(0/15 * * * ? *)",
    "cron(*/10 9-18 ? * MON-FRI *)",
    "cron(0 9 ? * 2#1 *)",
    "cron(0 0 L * ? *)",
    "cron(0 0 15W * ? *)",
    "cron(0 0 ? * 6L *)",
    "cron(30 1 1,15 JAN,JUL ? 2026-2030)",
    "rate(1 hour)",
    "rate(5 minutes)",
    "rate(1 day)",
    "rate(7 days)",
]
INVALID = [
    ("cron(5 15 * * * *)", "exactly one of day-of-month and day-of-week must be `?`"),
    ("cron(5 15 ? * ? *)", "exactly one of day-of-month and day-of-week must be `?`"),
    ("cron(5 15 * * ?)", "cron needs 6 fields"),
    ("cron(60 15 * * ? *)", "minutes '60': 60 is outside 0-59"),
    ("cron(0 24 * * ? *)", "hours '24': 24 is outside 0-23"),
    ("cron(0 0 32 * ? *)", "day-of-month '32': 32 is outside 1-31"),
    ("cron(0 0 ? 13 MON *)", "month '13': 13 is outside 1-12"),
    ("cron(0 0 ? * 8 *)", "day-of-week '8': 8 is outside 1-7"),
    ("cron(0 0 ? * FUNDAY *)", "day-of-week 'FUNDAY': 'FUNDAY' is not a value of day-of-week"),
    ("cron(0/0 * * * ? *)", "step '0' must be a positive number"),
    ("cron(0 0 ? * 2#6 *)", "#6 is not 1-5"),
    ("cron(0 0 * * ? 1969)", "year '1969': 1969 is outside 1970-2199"),
    ("cron(? 0 * * ? *)", "minutes '?': `?` is only for day-of-month or day-of-week"),
    ("rate(0 minutes)", "a rate must be at least 1"),
    ("rate(1 hours)", "singular for 1"),
    ("rate(5 minute)", "singular for 1"),
    ("rate(5 weeks)", "use cron("),
    ("0 15 * * *", "use cron("),
    ("at(2026-12-01T00:00:00)", "use cron("),
]


@pytest.mark.parametrize("expression", VALID)
def test_valid_expressions(expression: str) -> None:
    assert schedule_problem(expression) is None


@pytest.mark.parametrize(("expression", "problem"), INVALID)
def test_invalid_expressions(expression: str, problem: str) -> None:
    found = schedule_problem(expression)
    assert found is not None
    assert problem in found


@pytest.mark.parametrize(("name", "ok"), [("Asia/Tokyo", True), ("UTC", True), ("Asia/Tokio", False), ("JST", False)])
def test_time_zones(name: str, ok: bool) -> None:
    assert (time_zone_problem(name) is None) is ok
