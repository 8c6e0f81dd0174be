"""Temporal in plain text is a choice someone makes out loud: the operator and the worker
refuse to start without TLS or an API key unless TEMPORAL_PLAINTEXT=true says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contactsync_api import runtime
from contactsync_operator.settings import SettingsError
from contactsync_operator.settings import settings_from_env as operator_settings
from contactsync_worker.settings import WorkerConfigError
from contactsync_worker.settings import settings_from_env as worker_settings
from tests.carddav_sync import region_config


def test_the_operator_refuses_plain_text_it_was_not_told_to_use() -> None:
    with pytest.raises(SettingsError, match="TEMPORAL_PLAINTEXT=true"):
        operator_settings({"TEMPORAL_ADDRESS": "temporal:7233"})
    chosen = operator_settings({"TEMPORAL_ADDRESS": "temporal:7233", "TEMPORAL_PLAINTEXT": "true"})
    assert chosen.temporal.plaintext


def test_the_operator_accepts_an_api_key_without_further_ado(tmp_path: Path) -> None:
    key = tmp_path / "api-key"
    key.write_text("k")
    settings = operator_settings({"TEMPORAL_API_KEY_FILE": str(key)})
    assert settings.temporal.uses_tls
    assert not settings.temporal.plaintext


def worker_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    config = tmp_path / "region.json"
    document = region_config("https://dav.example/a/", "https://dav.example/b/")
    config.write_text(json.dumps(document.model_dump(mode="json", by_alias=True)))
    return {
        runtime.ENV_REGION: "local",
        runtime.ENV_TASK_QUEUE: "q",
        runtime.ENV_CONFIG_FILE: str(config),
        **extra,
    }


def test_the_worker_refuses_plain_text_it_was_not_told_to_use(tmp_path: Path) -> None:
    with pytest.raises(WorkerConfigError, match="TEMPORAL_PLAINTEXT=true"):
        worker_settings(worker_env(tmp_path))
    worker_settings(worker_env(tmp_path, **{runtime.ENV_TEMPORAL_PLAINTEXT: "true"}))
    tls = tmp_path / "tls"
    tls.mkdir()
    worker_settings(worker_env(tmp_path, **{runtime.ENV_TEMPORAL_TLS_DIR: str(tls)}))


def test_erase_refuses_plain_text_it_was_not_told_to_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from contactsync_cli.main import EXIT_INVALID, main

    args = ["erase", "--email", "e@example.org", "--contactsync", "ns/book", "--region", "eu"]
    assert main([*args, "--keys-dir", str(tmp_path)]) == EXIT_INVALID
    assert "--plaintext" in capsys.readouterr().err
