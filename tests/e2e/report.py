"""The e2e run's report: one text section per reporting test, under build/e2e/.

The conftest prints the sections of this run at the end of pytest's output (`make e2e`).
"""

from __future__ import annotations

from pathlib import Path

REPORT_DIR = Path(__file__).resolve().parents[2] / "build" / "e2e"


def write_report(section: str, text: str) -> None:
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (REPORT_DIR / f"{section}.txt").write_text(text.rstrip() + "\n")
