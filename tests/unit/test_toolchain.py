"""The versions the fixtures look for are the versions setup.sh builds."""

from __future__ import annotations

import re
from pathlib import Path

from tests.servers import toolchain

SETUP = Path(__file__).parents[1] / "env" / "setup.sh"
ENV = Path(__file__).parents[1] / "env"


def setup_version(name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", SETUP.read_text(), re.MULTILINE)
    assert match, f"{name} not set in {SETUP}"
    return match.group(1)


def test_setup_builds_the_versions_the_fixtures_expect() -> None:
    assert setup_version("KUBERNETES_VERSION") == toolchain.KUBERNETES_VERSION
    assert setup_version("ETCD_VERSION") == toolchain.ETCD_VERSION
    assert setup_version("HELM_VERSION") == toolchain.HELM_VERSION
    assert setup_version("PROMETHEUS_VERSION") == toolchain.PROMETHEUS_VERSION


def test_go_modules_pin_the_same_versions() -> None:
    kube = (ENV / "kube" / "go.mod").read_text()
    assert f"\tk8s.io/kubernetes {toolchain.KUBERNETES_VERSION} " in kube
    staging = toolchain.KUBERNETES_VERSION.replace("v1.", "v0.", 1)
    replaced = re.findall(r"^\t(k8s\.io/\S+) => \1 (\S+)$", kube, re.MULTILINE)
    assert replaced, "the staging modules must be replaced by their releases"
    assert {version for _, version in replaced} == {staging}
    assert (
        f"\tgo.etcd.io/etcd/server/v3 {toolchain.ETCD_VERSION} "
        in (ENV / "etcd" / "go.mod").read_text()
    )
    assert f"\thelm.sh/helm/v4 {toolchain.HELM_VERSION} " in (ENV / "helm" / "go.mod").read_text()
    promtool = (ENV / "promtool" / "go.mod").read_text()
    assert f"\tgithub.com/prometheus/prometheus {toolchain.PROMETHEUS_VERSION} " in promtool
