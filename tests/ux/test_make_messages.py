"""What `make demo` and `make test` print before installing: the trial at 80 columns saw two lines of 95 and 105
characters (and a first-install figure of 30 s where the README measured 43 s)."""
from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_every_line_make_prints_before_installing_fits_80_columns():
    # -n prints each recipe line with its variables expanded, without running it; --always-make lists every target's.
    dry = subprocess.run(["make", "--always-make", "-n", ".venv/.installed-sandbox", ".venv/.installed-test"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    said = [shlex.split(line)[1] for line in dry.splitlines() if line.startswith("echo ")]
    assert any("sandbox extra" in s for s in said) and any("test extra" in s for s in said), dry
    assert [s for s in said if len(s) > 80] == []
