"""Schedule expressions as EventBridge Scheduler accepts them, checked when the config loads.

`cron(minutes hours day-of-month month day-of-week year)`: six fields, exactly one of day-of-month and
day-of-week is `?`; `rate(value unit)`. A bad expression is otherwise only found by `pulumi up`.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from functools import cache

MONTHS = {
    m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)
}
WEEKDAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}


@dataclass(frozen=True)
class CronField:
    name: str
    low: int
    high: int
    names: dict[str, int]


FIELDS = (
    CronField("minutes", 0, 59, {}),
    CronField("hours", 0, 23, {}),
    CronField("day-of-month", 1, 31, {}),
    CronField("month", 1, 12, MONTHS),
    CronField("day-of-week", 1, 7, WEEKDAYS),
    CronField("year", 1970, 2199, {}),
)
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.*)\)$")


def schedule_problem(expression: str) -> str | None:
    """None if EventBridge Scheduler accepts `expression` as a recurring schedule, else why not."""
    rate = _RATE.match(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            return "a rate must be at least 1"
        if (value == 1) != (not unit.endswith("s")):
            return f"write `rate({value} {unit.rstrip('s') if value == 1 else unit.rstrip('s') + 's'})`: singular for 1"
        return None
    cron = _CRON.match(expression)
    if not cron:
        return "use cron(min hour day-of-month month day-of-week year) or rate(N minutes|hours|days)"
    fields = cron.group(1).split()
    if len(fields) != 6:
        return f"cron needs 6 fields (min hour day-of-month month day-of-week year), got {len(fields)}"
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return "exactly one of day-of-month and day-of-week must be `?`"
    for spec, text in zip(FIELDS, fields, strict=True):
        problem = _field_problem(spec, text)
        if problem:
            return f"{spec.name} {text!r}: {problem}"
    return None


def _field_problem(spec: CronField, text: str) -> str | None:
    if text == "?":
        return None if spec.name in ("day-of-month", "day-of-week") else "`?` is only for day-of-month or day-of-week"
    for item in text.split(","):
        problem = _item_problem(spec, item)
        if problem:
            return problem
    return None


def _item_problem(spec: CronField, item: str) -> str | None:
    if item == "*":
        return None
    if spec.name == "day-of-month" and item in ("L", "LW"):
        return None
    if spec.name == "day-of-month" and item.endswith("W"):
        return _value_problem(spec, item[:-1])
    if spec.name == "day-of-week" and item.endswith("L"):
        return None if item == "L" else _value_problem(spec, item[:-1])
    if spec.name == "day-of-week" and "#" in item:
        day, _, nth = item.partition("#")
        return _value_problem(spec, day) or (None if nth in {"1", "2", "3", "4", "5"} else f"#{nth} is not 1-5")
    if "/" in item:
        base, _, step = item.partition("/")
        if not step.isdigit() or int(step) < 1:
            return f"step {step!r} must be a positive number"
        return None if base == "*" else _item_problem(spec, base)
    if "-" in item:
        start, _, end = item.partition("-")
        return _value_problem(spec, start) or _value_problem(spec, end)
    return _value_problem(spec, item)


def _value_problem(spec: CronField, value: str) -> str | None:
    if value.upper() in spec.names:
        return None
    if not value.isdigit():
        return f"{value!r} is not a value of {spec.name}"
    if not spec.low <= int(value) <= spec.high:
        return f"{value} is outside {spec.low}-{spec.high}"
    return None


@cache
def known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def time_zone_problem(name: str) -> str | None:
    return None if name in known_time_zones() else f"{name!r} is not an IANA time zone (e.g. Asia/Tokyo, UTC)"
