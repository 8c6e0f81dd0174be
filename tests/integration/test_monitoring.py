"""The chart's monitoring: alerts that promtool proves fire when they should, scraping that
reaches the workers, and a dashboard; all of it reading only metrics the code exports.

Rendering needs no cluster: helm template and promtool, both built by tests/env/setup.sh.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from contactsync_api.manifest import parse_contact_sync
from contactsync_operator import naming
from contactsync_operator.children import worker_objects
from contactsync_operator.settings import OperatorSettings
from tests.corpus.manifests import example
from tests.integration.test_helm_chart import CHART, Helm, find, run
from tests.monitoring.promql import unknown_names
from tests.servers import toolchain

ROOT = Path(__file__).parents[2]
ALERT_TESTS = ROOT / "tests" / "monitoring" / "contactsync-alerts.test.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "contactsync-dashboard.json"
ALERTS = {
    "ContactSyncSyncFailing",
    "ContactSyncMassDeleteBlocked",
    "ContactSyncWorkersNotReady",
    "ContactSyncScheduleMissing",
    "ContactSyncDegraded",
    "ContactSyncReconcileErrors",
    "ContactSyncOperatorDown",
}
RULES = "--set=prometheusRule.enabled=true"
OPERATOR_SCRAPED = "--set=serviceMonitor.enabled=true"


@pytest.fixture(scope="module")
def helm(helm_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    home = tmp_path_factory.mktemp("helm")
    return Helm(helm_binary, home / "no-cluster-kubeconfig", home)


@pytest.fixture(scope="module")
def promtool() -> Path:
    return toolchain.built_binary("promtool", toolchain.PROMETHEUS_VERSION)


def rules_of(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rule = find(documents, "PrometheusRule")
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def promtool_ok(promtool: Path, *args: str | Path) -> str:
    result = run(promtool, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_nothing_for_monitoring_is_made_unless_asked(helm: Helm) -> None:
    kinds = {d["kind"] for d in helm.render()}
    assert not kinds & {"PrometheusRule", "PodMonitor", "ServiceMonitor"}
    assert not [d for d in helm.render() if d["metadata"]["name"].endswith("-dashboard")]


def test_the_alerts_fire_when_and_only_when_they_should(
    helm: Helm, promtool: Path, tmp_path: Path
) -> None:
    """The rules as the chart renders them for the release `contactsync`, under
    tests/monitoring/contactsync-alerts.test.yaml."""
    rendered = helm.ok(
        "template",
        "contactsync",
        str(CHART),
        "--namespace=contactsync-system",
        RULES,
        OPERATOR_SCRAPED,
    )
    rule = find([d for d in yaml.safe_load_all(rendered) if d], "PrometheusRule")
    rules_file = tmp_path / "contactsync-alerts.rules.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    shutil.copy(ALERT_TESTS, tmp_path)
    assert "SUCCESS: 7 rules found" in promtool_ok(promtool, "check", "rules", rules_file)
    promtool_ok(promtool, "test", "rules", tmp_path / ALERT_TESTS.name)
    tested = set(re.findall(r"alertname: (\w+)", ALERT_TESTS.read_text()))
    assert tested == {r["alert"] for r in rules_of([rule])}, "every alert has a promtool test"


def test_alert_expressions_read_only_metrics_the_code_exports(helm: Helm) -> None:
    rules = rules_of(helm.render(RULES, OPERATOR_SCRAPED, "--set=watchNamespaces={sales,hr}"))
    assert {r["alert"] for r in rules} == ALERTS
    assert unknown_names(r["expr"] for r in rules) == {}


def test_alerts_without_anything_scraping_the_operator_are_refused(helm: Helm) -> None:
    result = helm("template", "unscraped", str(CHART), RULES)
    assert result.returncode != 0
    assert "ContactSyncOperatorDown fires for ever" in result.stderr, result.stderr


def test_thresholds_and_labels_reach_every_alert(helm: Helm) -> None:
    documents = helm.render(
        RULES,
        "--set=prometheusRule.labels.release=prometheus",
        "--set=prometheusRule.additionalLabels.team=platform",
        "--set=prometheusRule.syncFailuresInARow=5",
        "--set=prometheusRule.workersNotReadyFor=30m",
        "--set=prometheusRule.massDeleteBlockedWindow=6h",
        "--set=prometheusRule.operatorJob=contactsync-operator",
        "--set=watchNamespaces={sales,hr}",
    )
    assert find(documents, "PrometheusRule")["metadata"]["labels"]["release"] == "prometheus"
    rules = {r["alert"]: r for r in rules_of(documents)}
    for alert in rules.values():
        assert alert["labels"]["team"] == "platform"
        assert alert["labels"]["severity"] in {"warning", "critical"}
    assert rules["ContactSyncSyncFailing"]["expr"].endswith(">= 5")
    assert 'job="contactsync-operator"' in rules["ContactSyncSyncFailing"]["expr"]
    assert rules["ContactSyncWorkersNotReady"]["for"] == "30m"
    blocked = rules["ContactSyncMassDeleteBlocked"]["expr"]
    assert '{namespace=~"sales|hr"}[6h]' in blocked, "only the watched namespaces' workers"


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("prometheusRule.enable=true", "enable"),
        ("prometheusRule.additionalLabels.severity=info", "severity"),
        ("prometheusRule.syncFailuresInARow=0", "/prometheusRule/syncFailuresInARow"),
        ("prometheusRule.degradedFor=15min", "/prometheusRule/degradedFor"),
        ("workerPodMonitor.intervall=1m", "intervall"),
        ("grafanaDashboard.label.team=ops", "label"),
        ("grafanaDashboard.namespace=Monitoring", "/grafanaDashboard/namespace"),
    ],
)
def test_monitoring_values_are_checked_by_the_schema(helm: Helm, setting: str, named: str) -> None:
    result = helm("template", "typo", str(CHART), f"--set={setting}")
    assert result.returncode != 0
    assert "schema" in result.stderr, result.stderr
    assert named in result.stderr, result.stderr


def test_the_operator_service_monitor_keeps_the_contactsync_namespace(helm: Helm) -> None:
    monitor = find(helm.render("--set=serviceMonitor.enabled=true"), "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True


def pod_label_meta(key: str) -> str:
    """How Prometheus names a pod label in service discovery."""
    return "__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)


def test_the_pod_monitor_scrapes_the_port_worker_network_policies_admit(helm: Helm) -> None:
    monitor = find(helm.render("--set=workerPodMonitor.enabled=true"), "PodMonitor")
    resource = parse_contact_sync(
        example("multi-region") | {"metadata": {"name": "book", "namespace": "hr", "uid": "u"}}
    )
    objects = worker_objects(resource, resource.spec.regions[0], OperatorSettings())
    pod = find(objects, "Deployment")["spec"]["template"]
    policy = find(objects, "NetworkPolicy")["spec"]
    selected = monitor["spec"]["selector"]["matchLabels"]
    assert selected.items() <= pod["metadata"]["labels"].items()
    assert policy["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"any": True}
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    [container] = pod["spec"]["containers"]
    port = next(p for p in container["ports"] if p["name"] == endpoint["port"])
    admitted = [p["port"] for rule in policy["ingress"] for p in rule["ports"]]
    assert admitted == [port["containerPort"]]
    relabelled = {r["targetLabel"]: r["sourceLabels"] for r in endpoint["relabelings"]}
    assert relabelled == {
        "name": [pod_label_meta(naming.INSTANCE_LABEL)],
        "region": [pod_label_meta(naming.REGION_LABEL)],
    }


def test_the_pod_monitor_looks_only_in_watched_namespaces(helm: Helm) -> None:
    documents = helm.render(
        "--set=workerPodMonitor.enabled=true", "--set=watchNamespaces={sales,hr}"
    )
    assert find(documents, "PodMonitor")["spec"]["namespaceSelector"] == {
        "matchNames": ["sales", "hr"]
    }


def test_the_dashboard_config_map_carries_the_dashboard(helm: Helm) -> None:
    documents = helm.render(
        "--set=grafanaDashboard.enabled=true", "--set=grafanaDashboard.namespace=monitoring"
    )
    config_map = find(documents, "ConfigMap", "render-test-contactsync-dashboard")
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["contactsync.json"]) == json.loads(DASHBOARD.read_text())


GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$namespace": ".*",
    "$name": ".*",
    "$operator_job": ".*",
}


def test_the_dashboard_queries_are_valid_promql(promtool: Path, tmp_path: Path) -> None:
    """promtool parses each panel query, with Grafana's variables as Grafana fills them in."""
    dashboard = json.loads(DASHBOARD.read_text())
    rules = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expression = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expression = expression.replace(variable, value)
            assert "$" not in expression, f"{panel['title']}: a variable this test does not know"
            rules.append(
                {"record": f"dashboard:panel_{panel['id']}_{target['refId']}", "expr": expression}
            )
    rules_file = tmp_path / "dashboard.rules.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    promtool_ok(promtool, "check", "rules", rules_file)
