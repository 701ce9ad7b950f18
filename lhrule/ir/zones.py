"""The rulebook's time zone: which names are taken, and when its clocks change.

A zone name must mean the same rules to every engine: Python's zoneinfo (the compiler, the
tests' literals), DuckDB's ICU and Spark's Java. `localtime` and `posixrules` are whatever
the machine they run on was set to, `Factory` is no zone at all, and a name only this
machine's tzdata has would fail, or be read as UTC, elsewhere: `zone_problem` refuses them.

`fixed_since` says from when the zone's offset never changes again (up to the last year an
event may have): there, naive local arithmetic is elapsed time, and a duration needs no
conversion (Asia/Shanghai's clocks last changed in 1991).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

# Names that load as zones but are the machine's setting, or no zone.
NOT_ZONES = {"localtime", "posixrules", "Factory"}
LAST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)  # past validate.YEARS
FIRST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def zone_problem(name: str) -> str | None:
    """Why `name` cannot be the rulebook's zone, or None when it can."""
    from zoneinfo import ZoneInfo, available_timezones

    if name in NOT_ZONES:
        return {"localtime": '"localtime" is the zone the machine running lhrule is set to, not one every engine '
                             'and machine reads the same',
                "posixrules": '"posixrules" is the rules tzdata gives POSIX TZ strings, not a time zone',
                "Factory": '"Factory" is tzdata\'s placeholder for a machine without a zone, not a time zone'}[name]
    if name not in available_timezones():
        return f'unknown time zone "{name}"'
    try:
        ZoneInfo(name)
    except Exception:  # noqa: BLE001 - a file in the zone folder that is no zone
        return f'unknown time zone "{name}"'
    if name not in _duckdb_zones():
        return f'DuckDB does not know the time zone "{name}" (only this machine\'s tzdata has it)'
    return None


@lru_cache(maxsize=1)
def _duckdb_zones() -> frozenset[str]:
    import duckdb

    with duckdb.connect() as con:
        return frozenset(r[0] for r in con.execute("SELECT name FROM pg_timezone_names()").fetchall())


@lru_cache(maxsize=64)
def fixed_since(name: str) -> dt.datetime | None:
    """The local time from which the zone's offset stays the same through 2199; datetime.min
    when it never changed since 1970, None when it still changes (daylight saving)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(name)
    try:
        last = _last_transition(name)
    except Exception:  # noqa: BLE001 - zoneinfo's reader is private: look day by day instead
        last = _scan(zone)
    if last is None:
        return None
    if last < FIRST:
        return dt.datetime.min
    # the local midnight two days on: past the change and the hours it moved
    return (last + dt.timedelta(days=2)).astimezone(zone).replace(tzinfo=None, hour=0, minute=0, second=0,
                                                                  microsecond=0)


def _last_transition(name: str) -> dt.datetime | None:
    """The zone's last change of offset, from its TZif file (read as zoneinfo reads it); None
    when its rule for later years has daylight saving. A change of the abbreviation or of the
    daylight-saving flag alone is no change of offset; it errs on the safe side (later)."""
    from zoneinfo import _common, _tzpath

    path = _tzpath.find_tzfile(name)
    if path is None:
        data = _common.load_tzdata(name)
    else:
        with open(path, "rb") as f:
            data = _common.load_data(f)
    transitions, rule = data[1], data[5]
    if b"," in rule:  # a POSIX TZ rule with a daylight-saving part: `EST5EDT,M3.2.0,M11.1.0`
        return None
    return dt.datetime.fromtimestamp(transitions[-1], dt.UTC) if transitions else FIRST - dt.timedelta(days=1)


def _scan(zone) -> dt.datetime | None:
    offset = LAST.astimezone(zone).utcoffset()
    day = LAST
    while day > FIRST:  # a day at a time: a zone's clocks change at most a few times a year
        day -= dt.timedelta(days=1)
        if day.astimezone(zone).utcoffset() != offset:
            return None if day > LAST - dt.timedelta(days=400) else day
    return FIRST - dt.timedelta(days=1)
