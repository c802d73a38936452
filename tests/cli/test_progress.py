"""A preview in a log is never silent for long, and names each phase with its duration."""

from __future__ import annotations

import io
import time

from stacks.cli import progress as progress_module
from stacks.cli.progress import Phase, Progress
from stacks.preview.offline import Captured


def _record(n: int) -> Captured:
    return Captured(urn=f"urn:{n}", type="aws:s3/bucket:Bucket", name=f"b{n}", parent=None,
                    provider=None, protect=False, custom=True, inputs={}, dependencies=[],
                    property_dependencies={}, options={})


def test_a_log_gets_a_line_every_few_seconds_from_the_start(monkeypatch):
    monkeypatch.setattr(progress_module, "LOG_EVERY", 0.05)
    log = io.StringIO()
    progress = Progress(expected=3, stream=log)
    time.sleep(0.12)  # before the first registration: imports and validation
    for n in range(2):
        progress(_record(n))
    time.sleep(0.12)
    progress.done()
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("  loading the SDKs and checking the config (")
    assert any(line.startswith("  registered 2 of ~3 resources (") for line in lines)
    assert lines[-1].startswith("  program: 2 resources registered in ")
    count = len(lines)
    time.sleep(0.12)
    assert len(log.getvalue().splitlines()) == count  # the ticker stopped with the run


def test_a_phase_says_how_long_it_took_and_nothing_when_it_fails():
    log = io.StringIO()
    with Phase("manifests", stream=log):
        pass
    assert log.getvalue().startswith("  manifests: ") and log.getvalue().endswith(" s\n")
    failed = io.StringIO()
    try:
        with Phase("policy pack", stream=failed):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert failed.getvalue() == ""
