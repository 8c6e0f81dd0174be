"""``contactsync render``: the operator's first plan for a manifest, as YAML, without a cluster."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from contactsync_api.manifest import parse_contact_sync
from contactsync_api.reasons import Reason
from contactsync_cli.main import main
from contactsync_cli.rendering import PLACEHOLDER_UID
from contactsync_operator.kube import KubeGateway
from contactsync_operator.observed import RegionAccess
from contactsync_operator.preview import assumed_observation
from contactsync_operator.reconcile import Reconciler
from contactsync_operator.settings import OperatorSettings
from tests.corpus.manifests import EXAMPLES, example

ROOT = Path(__file__).parents[2]
WORKER_KINDS = ["ServiceAccount", "ConfigMap", "Deployment", "PodDisruptionBudget", "NetworkPolicy"]


def this_checkout() -> str:
    """A PYTHONPATH that runs this checkout's packages, whatever the virtualenv installed."""
    paths = [str(ROOT / part) for part in ("api", "cli", "operator", "worker")]
    return os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])


def render(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["render", *args]) == 0
    return capsys.readouterr().out


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def kinds_and_names(text: str) -> list[tuple[str, str]]:
    return [(d["kind"], d["metadata"]["name"]) for d in documents(text)]


def worker_objects(name: str, region: str, digest: str) -> list[tuple[str, str]]:
    base = f"{name}-{region}-{digest}"
    return [(k, f"{base}-{'config' if k == 'ConfigMap' else 'worker'}") for k in WORKER_KINDS]


EXPECTED_OBJECTS = {
    # No encryption keys: the operator deploys nothing for the region, and neither does render.
    "quickstart": [],
    "multi-region": worker_objects("global-phonebook", "eu-central-1", "362e6095")
    + worker_objects("global-phonebook", "us-east-1", "7ffaf515"),
    "consent-retention": worker_objects("newsletter-contacts", "eu-west-3", "fd296e62"),
    # No PostgreSQL store: the one worker keeps its state on a volume.
    "vcf-export": [
        ("PersistentVolumeClaim", "exported-contacts-eu-central-1-9b5d2313-state"),
        *worker_objects("exported-contacts", "eu-central-1", "9b5d2313"),
    ],
    "mapped-exports": worker_objects("mapped-exports", "eu-west-1", "fc66f9e1"),
}
EXPECTED_SCHEDULES = {
    "quickstart": [],
    "multi-region": [
        "contactsync/contacts/global-phonebook/eu-central-1/sync",
        "contactsync/contacts/global-phonebook/eu-central-1/retention",
        "contactsync/contacts/global-phonebook/us-east-1/sync",
        "contactsync/contacts/global-phonebook/us-east-1/retention",
    ],
    "consent-retention": [
        "contactsync/marketing/newsletter-contacts/eu-west-3/sync",
        "contactsync/marketing/newsletter-contacts/eu-west-3/retention",
    ],
    "vcf-export": [
        "contactsync/contacts/exported-contacts/eu-central-1/sync",
        "contactsync/contacts/exported-contacts/eu-central-1/retention",
    ],
    "mapped-exports": [
        "contactsync/phonebook/mapped-exports/eu-west-1/sync",
        "contactsync/phonebook/mapped-exports/eu-west-1/retention",
    ],
}


def test_every_contactsync_example_has_its_expectations() -> None:
    assert set(EXPECTED_OBJECTS) == {p.stem for p in EXAMPLES.glob("*.yaml")}


@pytest.mark.parametrize("name", sorted(EXPECTED_OBJECTS))
def test_each_example_renders_the_objects_the_operator_creates(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    out = render(capsys, str(EXAMPLES / f"{name}.yaml"), "--only", "kubernetes")
    assert kinds_and_names(out) == EXPECTED_OBJECTS[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_SCHEDULES))
def test_each_example_renders_its_schedules_and_nothing_else_with_only_schedules(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    found = documents(render(capsys, str(EXAMPLES / f"{name}.yaml"), "--only", "schedules"))
    assert {(d["apiVersion"], d["kind"]) for d in found} <= {
        ("contactsync.dev/render", "TemporalSchedule")
    }
    assert [d["id"] for d in found] == EXPECTED_SCHEDULES[name]


def test_the_full_stream_holds_objects_then_schedules(capsys: pytest.CaptureFixture[str]) -> None:
    found = documents(render(capsys, str(EXAMPLES / "consent-retention.yaml")))
    assert [d["kind"] for d in found] == [*WORKER_KINDS, "TemporalSchedule", "TemporalSchedule"]


def test_a_region_without_keys_says_why_nothing_is_rendered(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = render(capsys, str(EXAMPLES / "quickstart.yaml"))
    assert documents(out) == []
    assert "# region local: nothing created (EncryptionNotConfigured)" in out


def test_render_and_the_reconciler_block_a_region_without_keys_alike() -> None:
    resource = parse_contact_sync(example("quickstart"))
    region = resource.spec.regions[0]
    reconciler = Reconciler(cast(KubeGateway, None), OperatorSettings())  # reads nothing here
    seen = asyncio.run(reconciler.region_keys(resource, region))
    assumed = assumed_observation(resource, OperatorSettings()).access[region.name]
    assert isinstance(seen, RegionAccess)
    assert assumed == seen
    assert assumed.reason is Reason.ENCRYPTION_NOT_CONFIGURED


def test_the_sync_schedule_is_described_from_what_the_operator_builds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    found = documents(render(capsys, str(EXAMPLES / "multi-region.yaml"), "--only", "schedules"))
    sync = found[0]
    assert sync["temporal"] == {"address": "localhost:7233", "namespace": "contacts-eu"}
    assert sync["spec"] == {"cron": ["*/15 * * * *"], "jitter": "2m", "timeZone": "Europe/Berlin"}
    assert sync["policy"] == {"overlap": "SKIP"}
    start = sync["action"]["startWorkflow"]
    assert start["workflowType"] == "ContactSyncWorkflow"
    assert start["taskQueue"] == "contactsync/contacts/global-phonebook/eu-central-1"
    assert start["workflowId"] == "contactsync/contacts/global-phonebook/eu-central-1/sync"
    assert start["input"] == [
        {
            "type": "SyncInput",
            "request": {
                "type": "RegionRunRequest",
                "namespace": "contacts",
                "contactSync": "global-phonebook",
                "region": "eu-central-1",
            },
        }
    ]
    retention = found[1]
    assert retention["spec"] == {"intervals": [{"every": "1d"}], "jitter": "1h"}


def test_the_same_input_renders_the_same_bytes_in_separate_processes() -> None:
    """Separate processes with different hash seeds: no set or dict order leaks into the output."""
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": this_checkout()}
        result = subprocess.run(
            [sys.executable, "-m", "contactsync_cli.main", "render", "-"],
            input=(EXAMPLES / "multi-region.yaml").read_bytes(),
            capture_output=True,
            env=env,
            cwd=ROOT,
            check=True,
            text=False,
            timeout=120,
        )
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    assert b"kind: Deployment" in outputs[0]


def test_no_secret_and_no_secret_value_appear_only_references_by_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    found = documents(render(capsys, str(EXAMPLES / "multi-region.yaml")))
    assert "Secret" not in {d["kind"] for d in found}
    for document in found:
        if document["kind"] == "Deployment":
            pod = document["spec"]["template"]["spec"]
            secret_volumes = [v["secret"] for v in pod["volumes"] if "secret" in v]
            assert secret_volumes, "the region's Secrets are mounted, by name"
            assert all(set(v) <= {"secretName", "items"} for v in secret_volumes)
            env = pod["containers"][0]["env"]
            assert all(set(e) == {"name", "value"} for e in env)
            assert not any("valueFrom" in e for e in env)
        if document["kind"] == "TemporalSchedule":
            request = document["action"]["startWorkflow"]["input"][-1]
            assert "authorization" not in yaml.safe_dump(request)


def test_a_secret_in_the_file_is_refused_and_its_value_not_echoed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "eu-store", "namespace": "contacts"},
        "stringData": {"dsn": "postgresql://u:hunter2@db:5432/x"},
    }
    manifest = tmp_path / "with-secret.yaml"
    manifest.write_text(yaml.safe_dump_all([example("multi-region"), secret], sort_keys=False))
    assert main(["render", str(manifest)]) == 2
    captured = capsys.readouterr()
    assert "hunter2" not in captured.out + captured.err
    assert captured.err.startswith(f"contactsync render: {manifest}: apiVersion: expected")
    assert "kind: expected ContactSync, got 'Secret'" in captured.err


def test_settings_options_reach_the_objects_and_schedules(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = example("quickstart")
    document["spec"]["regions"][0]["encryption"] = {"keysSecretRef": {"name": "keys"}}
    manifest = tmp_path / "quickstart-keys.yaml"
    manifest.write_text(yaml.safe_dump(document))
    out = render(
        capsys,
        str(manifest),
        "--namespace=team",
        "--image=registry.example/contactsync:9",
        "--temporal-address=temporal.example:7000",
        "--temporal-namespace=contacts",
    )
    found = {d["kind"]: d for d in documents(out)}
    deployment = found["Deployment"]
    assert deployment["metadata"]["namespace"] == "team"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/contactsync:9"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert "temporal.example:7000" in env.values()
    assert "contacts" in env.values()
    egress = found["NetworkPolicy"]["spec"]["egress"]
    assert {"protocol": "TCP", "port": 7000} in [p for rule in egress for p in rule["ports"]]
    assert found["PersistentVolumeClaim"]["metadata"]["namespace"] == "team"
    assert found["TemporalSchedule"]["temporal"] == {
        "address": "temporal.example:7000",
        "namespace": "contacts",
    }
    assert found["TemporalSchedule"]["id"] == "contactsync/team/quickstart/local/retention"


def test_the_owner_uid_is_the_manifests_when_it_has_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = example("multi-region")
    placeholder = render(capsys, str(EXAMPLES / "multi-region.yaml"), "--only", "kubernetes")
    assert all(
        d["metadata"]["ownerReferences"][0]["uid"] == PLACEHOLDER_UID
        for d in documents(placeholder)
    )
    document["metadata"]["uid"] = "5f0c1c3e-1b7a-4a53-9a35-0d3c2b1e9f10"
    manifest = tmp_path / "stored.yaml"
    manifest.write_text(yaml.safe_dump(document))
    out = render(capsys, str(manifest), "--only", "kubernetes")
    owners = {d["metadata"]["ownerReferences"][0]["uid"] for d in documents(out)}
    assert owners == {"5f0c1c3e-1b7a-4a53-9a35-0d3c2b1e9f10"}
    assert PLACEHOLDER_UID not in out


def test_egress_policies_given_narrow_the_workers_or_withhold_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest, policy = (
        str(EXAMPLES / "multi-region.yaml"),
        str(EXAMPLES / "egress/hr-directory.yaml"),
    )
    withheld = render(capsys, manifest, "--egress-policy", policy)
    assert documents(withheld) == []
    assert "region eu-central-1: nothing created (EgressNotAllowed)" in withheld.replace(
        "\n# ", " "
    )
    selected = render(
        capsys,
        manifest,
        "--egress-policy",
        policy,
        "--namespace-label=team=hr",
        "--only=kubernetes",
    )
    policies = [d for d in documents(selected) if d["kind"] == "NetworkPolicy"]
    assert len(policies) == 2
    for network_policy in policies:
        peers = [p for rule in network_policy["spec"]["egress"] for p in rule.get("to", [])]
        assert {"ipBlock": {"cidr": "10.20.0.0/16", "except": ["10.20.99.0/24"]}} in peers


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.yaml"], "contactsync render: missing.yaml: cannot read it"),
        (
            [str(EXAMPLES / "quickstart.yaml"), "--temporal-address=temporal"],
            "contactsync render: --temporal-address 'temporal': expected host:port",
        ),
        (
            [str(EXAMPLES / "quickstart.yaml"), "--namespace-label=team"],
            "contactsync render: --namespace-label 'team': expected KEY=VALUE",
        ),
        (
            [
                str(EXAMPLES / "quickstart.yaml"),
                "--egress-policy",
                str(EXAMPLES / "quickstart.yaml"),
            ],
            "contactsync render: ",
        ),
    ],
)
def test_unusable_input_is_one_line_on_stderr_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["render", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(message)
    assert captured.err.count("\n") == 1


def test_an_invalid_contactsync_names_the_file_and_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = example("multi-region")
    document["spec"]["regions"][0]["workers"]["replicas"] = -1
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(yaml.safe_dump(document))
    assert main(["render", str(manifest)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"contactsync render: {manifest}: spec.regions[0].workers.replicas")
    assert err.count("\n") == 1
