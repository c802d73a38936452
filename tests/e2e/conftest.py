"""Session fixtures of the e2e tests: a real API server with the platform's CRDs.

The binaries come from `make e2e-toolchain` (tests/e2e/toolchain/build.sh). Without them the
tests are skipped, unless HYBRIDML_E2E_REQUIRED=1 (`make test`, CI), where that is a failure.
"""

from __future__ import annotations

import os

import pytest

from tests.e2e.apiserver import ApiServer, Client
from tests.e2e.binaries import binary, missing_binaries, versions
from tests.e2e.crds import Installed, install
from tests.e2e.report import REPORT_DIR


@pytest.fixture(scope="session")
def kube_apiserver(tmp_path_factory) -> Client:
    missing = missing_binaries()
    if missing:
        why = f"e2e toolchain not built ({', '.join(map(str, missing))}): run `make e2e-toolchain`"
        if os.environ.get("HYBRIDML_E2E_REQUIRED") == "1":
            pytest.fail(why)
        pytest.skip(why)
    v = versions()
    server = ApiServer(binary("etcd", v["ETCD_VERSION"]),
                       binary("kube-apiserver", v["KUBERNETES_VERSION"]),
                       tmp_path_factory.mktemp("kube-apiserver"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def crds(kube_apiserver) -> Installed:
    return install(kube_apiserver)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    # The report file is written by whichever process ran the tests (an xdist worker, too).
    started = getattr(config, "_e2e_started", 0)
    sections = sorted(p for p in REPORT_DIR.glob("*.txt") if p.stat().st_mtime >= started)
    if sections:
        terminalreporter.section("e2e: real Kubernetes API server")
        for p in sections:
            terminalreporter.write(p.read_text())


def pytest_configure(config):
    import time

    config._e2e_started = time.time()
