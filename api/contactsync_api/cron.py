"""Cron expressions as Temporal schedules read them, checked field by field.

Five fields (minute, hour, day of month, month, day of week), each a comma-separated list of
items; an item is ``*``, a value or a range ``a-b``, optionally followed by ``/step``; or one of
the macros. Temporal reads more (seconds, years, ``#`` comments, ``@every``); the spec keeps to
what every cron reader agrees on, so an expression means the same wherever it is read.

One regular expression says all of it: the API server runs it as CEL, the model in Python.
Without it, a minute of 61 passes admission and fails only when Temporal refuses the schedule.
"""

from __future__ import annotations

from contactsync_api.rules import Rule, pattern_rule

MINUTE = "[0-5]?[0-9]"
HOUR = "([01]?[0-9]|2[0-3])"
DAY_OF_MONTH = "(0?[1-9]|[12][0-9]|3[01])"
MONTH = "(0?[1-9]|1[0-2]|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))"
DAY_OF_WEEK = "([0-7]|(?i:sun|mon|tue|wed|thu|fri|sat))"  # 0 and 7 are Sunday
MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly")
_BETWEEN_FIELDS = "[ \t]+"


def _field(value: str) -> str:
    item = f"([*]|{value}(-{value})?)(/[1-9][0-9]*)?"
    return f"{item}(,{item})*"


CRON_PATTERN = (
    f"^({'|'.join(MACROS)}"
    f"|{_BETWEEN_FIELDS.join(_field(v) for v in (MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK))}"
    ")$"
)
CRON_HELP = (
    "five fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or JAN-DEC) "
    "and day of week (0-7 or SUN-SAT; 0 and 7 are Sunday), each *, a value, a range a-b or "
    "a list of them, each optionally /step; or @hourly, @daily, @weekly, @monthly, @yearly"
)


def cron_rule() -> Rule:
    return pattern_rule(
        "cron", "cron", CRON_PATTERN, f"schedule.cron must be {CRON_HELP}, e.g. '*/15 * * * *'"
    )
