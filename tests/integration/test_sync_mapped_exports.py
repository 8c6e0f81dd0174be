"""Exports read through mappings into PostgreSQL: Google and Outlook CSV exports with their
full published headers, a spreadsheet header with explicit entries, and a header no column
of which feeds an allowed field, which fails the source naming its columns and writes
nothing. Real worker, Temporal dev server, PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from contactsync_api.spec import RegionConfig
from tests.carddav_sync import sync
from tests.mapping_exports import (
    GOOGLE_ADA,
    GOOGLE_CLASSIC_HEADER,
    GOOGLE_CURRENT_GRACE,
    GOOGLE_CURRENT_HEADER,
    OUTLOOK_ALAN,
    OUTLOOK_HEADER,
    SPREADSHEET_HEADER,
    SPREADSHEET_MAPPING,
    SPREADSHEET_ROWS,
    export,
)
from tests.servers.postgres import PostgresServer
from tests.servers.process import free_port
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles, running_worker

pytestmark = [pytest.mark.postgres, pytest.mark.temporal]
FIELDS = ["fullName", "emails", "phones", "addresses", "organization", "title", "note"]


def csv_source(name: str, path: Path, mapping: dict[str, Any] | None) -> dict[str, Any]:
    csv: dict[str, Any] = {"path": str(path)}
    if mapping is not None:
        csv["mapping"] = mapping
    return {"name": name, "region": "local", "csv": csv}


def region(sources: list[dict[str, Any]], table: str, fields: list[str] = FIELDS) -> RegionConfig:
    return RegionConfig.model_validate(
        {
            "contactSync": "tests/phonebook",
            "region": {"name": "local"},
            "sources": sources,
            "destinations": [
                {
                    "name": "db",
                    "region": "local",
                    "postgres": {"dsnSecretRef": {"name": "pg", "key": "dsn"}, "table": table},
                }
            ],
            "fields": fields,
            "identity": ["email"],
            "consent": {"mode": "NotRequired"},
            "deletes": {"propagate": True, "maxDeletePercent": 50},
            "retention": {"removedContacts": "0d", "auditLog": "400d", "workflowHistory": "7d"},
            "deletionPolicy": "Retain",
        }
    )


# A header that maps to nothing is unavailable, retried like any unavailable source.
FAST_RETRIES = {"CONTACTSYNC_SOURCE_ATTEMPTS": "2", "CONTACTSYNC_SOURCE_RETRY_SECONDS": "0.2"}


def worker_files(
    root: Path, config: RegionConfig, temporal: TemporalDevServer, postgres: PostgresServer
) -> WorkerFiles:
    files = WorkerFiles(
        root,
        config,
        task_queue=f"mapped-{uuid.uuid4().hex[:8]}",
        temporal_address=temporal.address,
        extra_env=FAST_RETRIES,
    )
    files.add_key("k0001")
    files.write_secret("pg", {"dsn": postgres.dsn})
    return files


def rows(postgres: PostgresServer, table: str) -> dict[str, dict[str, Any]]:
    query = sql.SQL(
        "SELECT full_name, emails_typed, phones_typed, addresses_typed, organization, title, "
        "note FROM {}"
    ).format(sql.Identifier("public", table))
    with psycopg.connect(postgres.dsn, row_factory=dict_row) as db:
        return {r["full_name"]: r for r in db.execute(query).fetchall()}


def typed(value: str, *types: str, pref: int | None = None, label: str | None = None) -> Any:
    return {"value": value, "types": list(types), "pref": pref, "label": label}


async def test_google_outlook_and_spreadsheet_exports_arrive_with_names_types_and_phones(
    tmp_path: Path, postgres_server: PostgresServer, temporal_server: TemporalDevServer
) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "google.csv").write_bytes(export(GOOGLE_CLASSIC_HEADER, [GOOGLE_ADA], bom=True))
    (exports / "google-new.csv").write_bytes(export(GOOGLE_CURRENT_HEADER, [GOOGLE_CURRENT_GRACE]))
    (exports / "outlook.csv").write_bytes(export(OUTLOOK_HEADER, [OUTLOOK_ALAN]))
    (exports / "sheet.csv").write_bytes(export(SPREADSHEET_HEADER, SPREADSHEET_ROWS))
    table = f"mapped_{uuid.uuid4().hex[:8]}"
    config = region(
        [
            csv_source("google", exports / "google.csv", {"preset": "google-csv"}),
            csv_source("google-new", exports / "google-new.csv", {"preset": "google-csv"}),
            csv_source("outlook", exports / "outlook.csv", {"preset": "outlook-csv"}),
            csv_source("sheet", exports / "sheet.csv", SPREADSHEET_MAPPING),
        ],
        table,
    )
    files = worker_files(tmp_path / "worker", config, temporal_server, postgres_server)
    async with running_worker(files, free_port()):
        summary = await sync(files)
        again = await sync(files)

    assert (summary.created, summary.quarantined) == (5, 0)
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)
    people = rows(postgres_server, table)
    assert set(people) == {
        "Ada Lovelace",
        "Grace Brewster Hopper",
        "Alan Turing",
        "Katherine Johnson",
        "Dorothy Vaughan",
    }
    ada = people["Ada Lovelace"]
    assert ada["emails_typed"] == [
        typed("ada@work.example", "work", pref=1),
        typed("ada@home.example", "home"),
        typed("ada.l@home.example", "home"),
    ]
    assert ada["phones_typed"] == [
        typed("+44 20 7946 0101", "cell"),
        typed("+44 20 7946 0109", "fax", "work"),
    ]
    assert ada["addresses_typed"] == [typed(";;12 St James's Square;London;;SW1Y 4JH;UK", "home")]
    assert (ada["organization"], ada["title"]) == ("Analytical Engines Ltd", "Analyst")
    assert ada["note"] == "met at the Analytical Society"
    grace = people["Grace Brewster Hopper"]
    assert grace["emails_typed"] == [typed("grace@navy.example", "work", pref=1)]
    assert grace["phones_typed"] == [typed("+1 202 555 0199", "home")]
    alan = people["Alan Turing"]
    assert alan["title"] == "Mathematician", "Outlook's Title is a courtesy title"
    assert alan["phones_typed"] == [
        typed("+44 20 8977 3222", "voice", "work"),
        typed("+44 7700 900123", "cell"),
        typed("+44 20 8943 2155", "fax", "work"),
    ]
    assert alan["emails_typed"] == [typed("alan@npl.example"), typed("alan@home.example")]
    katherine = people["Katherine Johnson"]
    assert katherine["emails_typed"] == [typed("katherine@nasa.example", "work")]
    assert katherine["phones_typed"] == [typed("+1 757 555 0142", "cell")]
    assert (katherine["organization"], katherine["note"]) == (
        "NASA",
        "orbital mechanics; trajectories",
    )


async def test_a_header_that_feeds_no_allowed_field_fails_the_source_and_writes_nothing(
    tmp_path: Path, postgres_server: PostgresServer, temporal_server: TemporalDevServer
) -> None:
    sheet = tmp_path / "sheet.csv"
    sheet.write_bytes(export(SPREADSHEET_HEADER, SPREADSHEET_ROWS))
    table = f"unmapped_{uuid.uuid4().hex[:8]}"
    # No mapping: of the header only organization is a canonical name, and it is not
    # allowed here. Before mappings this synced two contacts without a field.
    fields = [f for f in FIELDS if f != "organization"]
    config = region([csv_source("sheet", sheet, None)], table, fields)
    files = worker_files(tmp_path / "worker", config, temporal_server, postgres_server)
    async with running_worker(files, free_port()):
        with pytest.raises(WorkflowFailureError) as failed:
            await sync(files)

    cause: BaseException | None = failed.value.cause
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__
    assert isinstance(cause, ApplicationError)
    assert cause.type == "SourceUnavailable"
    assert "no column of the header feeds an allowed field" in cause.message
    assert "'full_name', 'email', 'phone'" in cause.message
    assert "the canonical field names reads ['fullName'" in cause.message
    assert "Katherine" not in cause.message
    assert "nasa" not in cause.message
    with psycopg.connect(postgres_server.dsn) as db:
        exists = db.execute("SELECT to_regclass(%s)", (f"public.{table}",)).fetchone()
        count = (
            db.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
            if exists and exists[0]
            else (0,)
        )
    assert count == (0,)
