"""Where the e2e toolchain lives: the pinned versions, the binaries' cache, the CRD modules.

`toolchain/versions.env` is the one place versions are pinned; `toolchain/build.sh` (make
e2e-toolchain) builds the binaries into the cache this module reads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).parent
VERSIONS_FILE = HERE / "toolchain" / "versions.env"


def versions() -> dict[str, str]:
    out = {}
    for line in VERSIONS_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def cache_dir() -> Path:
    return Path(os.environ.get("HYBRIDML_E2E_CACHE") or Path.home() / ".cache" / "hybrid-ml-e2e")


def binary(piece: str, version: str) -> Path:
    """The cached binary of `piece` at `version` (build.sh's layout); may not exist yet."""
    return cache_dir() / f"{piece}-{version}" / piece


def missing_binaries() -> list[Path]:
    v = versions()
    wanted = [binary("etcd", v["ETCD_VERSION"]), binary("kube-apiserver", v["KUBERNETES_VERSION"])]
    return [p for p in wanted if not os.access(p, os.X_OK)]


def module_dir(module: str, version: str) -> Path:
    """The extracted source of MODULE@vVERSION in the Go module cache (downloaded if absent)."""
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("the e2e tests need Go to read CRDs from the operators' modules")
    ref = f"{module}@v{version}"
    # Outside any module, so no go.mod of ours is consulted or changed.
    done = subprocess.run([go, "mod", "download", "-json", ref], capture_output=True, text=True,
                          cwd=cache_dir() if cache_dir().is_dir() else None, timeout=900,
                          env={**os.environ, "GOFLAGS": "-mod=mod"})
    info = json.loads(done.stdout or "{}")
    if done.returncode != 0 or "Dir" not in info:
        raise RuntimeError(f"go mod download {ref}: {info.get('Error') or done.stderr.strip()}")
    return Path(info["Dir"])
