"""Every run draws its random (Hypothesis) tests from one seed, printed in the report header and
the summary; HYPOTHESIS_SEED=<that seed> replays exactly the same examples; and no example
database carries examples from one run into the next (tests/plugin.py).

Checked on a throwaway test file, run by a separate pytest with Hypothesis's plugin and then
ours, in the order `make test` loads them (the other plugins left out: they only cost startup)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DRAWS = """
import os
from hypothesis import given, strategies as st

@given(st.integers())
def test_draws(n):
    with open(os.environ["DRAWN"], "a") as out:
        out.write(f"{n}\\n")
"""
FAILS = """
from hypothesis import given, settings, strategies as st

def test_no_example_database_is_configured():
    assert settings.default.database is None

@given(st.integers())
def test_fails_for_big_numbers(n):
    assert n < 1000
"""


def pytest_run(tmp_path: Path, source: str, *, seed: str | None, drawn: str = "") -> str:
    (tmp_path / "test_inner.py").write_text(source)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "tests.settings",
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
           "DRAWN": str(tmp_path / (drawn or "unused.txt"))}  # fmt: skip
    env.pop("HYPOTHESIS_SEED", None)
    if seed is not None:
        env["HYPOTHESIS_SEED"] = seed
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "_hypothesis_pytestplugin", "-p", "tests.plugin",
         "-p", "no:cacheprovider", "test_inner.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return result.stdout + result.stderr


def test_the_printed_seed_replays_the_same_examples_and_another_seed_draws_others(
    tmp_path: Path,
) -> None:
    first = pytest_run(tmp_path, DRAWS, seed=None, drawn="first.txt")
    [seed] = set(re.findall(r"hypothesis seed (\d+): replay with HYPOTHESIS_SEED=\1 make test",
                            first))  # fmt: skip
    # Once in the header, once in the summary.
    assert first.count(f"hypothesis seed {seed}: replay with HYPOTHESIS_SEED={seed}") == 2, first

    # The replay is run with the printed seed: it says so, and draws as many examples.
    replay = pytest_run(tmp_path, DRAWS, seed=seed, drawn="replay.txt")
    assert f"hypothesis seed {seed}: replay with HYPOTHESIS_SEED={seed}" in replay, replay
    drawn = {name: (tmp_path / f"{name}.txt").read_text().splitlines()
             for name in ("first", "replay")}  # fmt: skip
    assert len(drawn["first"]) >= 50, first
    assert len(drawn["replay"]) == len(drawn["first"])


def test_a_failing_example_is_not_saved_for_later_runs(tmp_path: Path) -> None:
    output = pytest_run(tmp_path, FAILS, seed="4321")

    assert "hypothesis seed 4321: replay with HYPOTHESIS_SEED=4321 make test" in output
    # The seeded run alone already skips the database for @given tests (Hypothesis 6.170);
    # the profile without one also covers whatever runs unseeded (find(), a plugin change).
    assert "1 failed, 1 passed" in output, output
    assert not (tmp_path / ".hypothesis" / "examples").exists()
