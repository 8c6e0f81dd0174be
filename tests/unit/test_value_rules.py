"""The rules on single values accept what the systems behind them accept: the corpus shows what
they refuse, these show they are not stricter than cron, Kubernetes or a URL allow."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from contactsync_api.endpoints.carddav import CardDavSpec
from contactsync_api.endpoints.files import FileSourceSpec
from contactsync_api.rules import matches
from contactsync_api.spec import RegionTemporalSpec, ResourcesSpec, ScheduleSpec
from contactsync_api.values import SecretRef


def schedule(**fields: Any) -> ScheduleSpec:
    return ScheduleSpec.model_validate(fields)


@pytest.mark.parametrize(
    "cron",
    [
        "*/15 * * * *",
        "0 0 * * *",
        "59 23 31 12 7",
        "0 0 1 1 0",
        "00 09 01 01 *",
        "0 9-17/2 * * MON-FRI",
        "0 9-17/2 * * mon-fri",
        "30 6 1 jan,Jul *",
        "0,15,30,45 * * * *",
        "5/10 * * * *",
        "0 0 * * sun",
        "0\t0 * * *",
        "@hourly",
        "@daily",
        "@weekly",
        "@monthly",
        "@yearly",
        "@annually",
    ],
)
def test_cron_in_range_is_accepted(cron: str) -> None:
    assert schedule(cron=cron).cron == cron


@pytest.mark.parametrize(
    "cron",
    [
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 0 *",
        "* * * * 8",
        "*/0 * * * *",
        "0-60 * * * *",
        "0 0 * * * *",
        "0 0 * *",
        "@every 5m",
        "@midnight",
        "0 0 * * *\n",
        "0 0 L * *",
        "-1 * * * *",
    ],
)
def test_cron_out_of_range_or_beyond_five_fields_is_refused(cron: str) -> None:
    with pytest.raises(ValidationError, match="minute \\(0-59\\)"):
        schedule(cron=cron)


@pytest.mark.parametrize(("interval", "accepted"), [("1m", True), ("60s", True), ("59s", False)])
def test_interval_is_at_least_a_minute(interval: str, accepted: bool) -> None:
    if accepted:
        schedule(interval=interval)
    else:
        with pytest.raises(ValidationError, match="at least 1m"):
            schedule(interval=interval)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires"])
def test_time_zones_of_the_iana_database_are_accepted(zone: str) -> None:
    schedule(cron="0 * * * *", timeZone=zone)


@pytest.mark.parametrize("zone", ["Europe/Berln", "Mars/Olympus_Mons", "Local"])
def test_time_zones_the_database_lacks_are_refused(zone: str) -> None:
    with pytest.raises(ValidationError, match="not a time zone of the IANA database"):
        schedule(cron="0 * * * *", timeZone=zone)


@pytest.mark.parametrize(
    "value", ["100m", "0.5", ".5", "2", 2, 0, "256Mi", "1Gi", "1.5Gi", "1e3", "1E-3", "+1", "500n"]
)
def test_kubernetes_quantities_are_accepted(value: int | str) -> None:
    ResourcesSpec.model_validate({"requests": {"cpu": value}, "limits": {"memory": value}})


@pytest.mark.parametrize(
    "value", ["1 Gi", "1GB", "1gi", "1.2.3", "1e", "Gi", "", "-1", -1, "1e1.5"]
)
def test_what_is_no_kubernetes_quantity_is_refused(value: int | str) -> None:
    with pytest.raises(ValidationError, match="Kubernetes quantity"):
        ResourcesSpec.model_validate({"requests": {"cpu": value}})


@pytest.mark.parametrize("name", ["a", "dav", "dav-alice", "eu.contact-keys.v2", "0keys9"])
def test_secret_names_kubernetes_accepts_are_accepted(name: str) -> None:
    assert SecretRef(name=name).name == name


@pytest.mark.parametrize("name", ["Dav", "dav_alice", "-dav", "dav-", "dav..keys", ".dav", "a b"])
def test_secret_names_kubernetes_refuses_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="Secret name"):
        SecretRef(name=name)


@pytest.mark.parametrize("namespace", ["default", "contacts-eu", "Contacts_EU.1", "prod.a1b2c"])
def test_temporal_namespace_names_are_accepted(namespace: str) -> None:
    RegionTemporalSpec(namespace=namespace)


@pytest.mark.parametrize("namespace", ["contacts/eu", "contacts eu", "eu:1", "-eu", "eu.", "ü"])
def test_temporal_namespace_names_that_break_urls_or_tools_are_refused(namespace: str) -> None:
    with pytest.raises(ValidationError, match="Temporal namespace name"):
        RegionTemporalSpec(namespace=namespace)


@pytest.mark.parametrize(
    "url",
    [
        "https://dav.example.com/dav/alice@example.com/book/",
        "https://dav.example.com/book/?owner=alice@example.com",
        "https://dav.example.com:8443/book/",
    ],
)
def test_an_at_sign_outside_the_host_part_is_no_credential(url: str) -> None:
    assert CardDavSpec(url=url).url == url


@pytest.mark.parametrize(
    "url", ["https://alice:secret@dav.example.com/book/", "https://alice@dav.example.com/"]
)
def test_user_information_in_a_url_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="user name or password"):
        CardDavSpec(url=url)


@pytest.mark.parametrize("path", ["/data/a..b.csv", "/data/.../x.csv", "/data/..hidden.csv"])
def test_dots_that_are_no_parent_segment_are_accepted(path: str) -> None:
    assert FileSourceSpec(path=path).path == path


@pytest.mark.parametrize("path", ["/data/../etc/passwd", "/..", "/data/.."])
def test_parent_segments_are_refused(path: str) -> None:
    with pytest.raises(ValidationError, match=r"'\.\.' segments"):
        FileSourceSpec(path=path)


def test_dollar_ends_the_text_as_in_cel() -> None:
    # Python's $ also matches before a final newline; RE2's, in the API server, does not.
    assert matches("abc", "^abc$")
    assert not matches("abc\n", "^abc$")
