"""kill -9 of the embedded ``monitor run`` mid-burst, restarted on the same data dir: nothing lost.

Real processes throughout (``chaos.single``): ``monitor run`` with its embedded broker and Redis, a local
feed whose every article matches a rule, a webhook receiver that dedups on ``webhook-id``. The whole
process tree is SIGKILLed while alerts flow (early and mid-way), restarted each time; then every expected
alert must be at the receiver exactly once after dedup, the article journal empty, no process left
behind. The 2,000-article runs of the issue are marked slow; a 200-article run is in the normal suite.
No timing in assertions: the scenario waits for conditions with deadlines.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.single import run_single

pytestmark = pytest.mark.integration


def _check(summary: dict) -> None:
    report = json.dumps(summary, indent=1, default=str)
    assert summary["lost"] == 0, report
    assert summary["delivered"] == summary["expected"] == summary["articles"], report
    assert summary["duplicates_after_dedup"] == 0, report
    assert summary["stream_lost"] == 0 and summary["stream_delivered"] == summary["expected"], report
    assert summary["stream_duplicate_entries"] == 0, report
    assert summary["unexpected"] == 0, report
    assert summary["journal_left"] == 0, report
    assert summary["orphans"] == [], report
    assert summary["last_exit_code"] == 0, report


def test_kill_9_early_and_midway_loses_nothing(tmp_path: Path) -> None:
    _check(run_single(200, [1, 100], tmp_path / "run", deadline=300))


def test_children_die_with_a_killed_parent_and_the_restart_recovers(tmp_path: Path) -> None:
    """Only ``monitor run``'s own group is killed: its broker and Redis must die of their parent's death
    (no orphan), and the restart must not meet a second Redis on the same AOF."""
    summary = run_single(60, [0, 20], tmp_path / "run", groups_only=True, deadline=300)
    _check(summary)


@pytest.mark.slow
@pytest.mark.parametrize("kills", [[1], [1000]], ids=["early", "midway"])  # both: make chaos
def test_issue_scenario_2000_articles(tmp_path: Path, kills: list[int]) -> None:
    _check(run_single(2000, kills, tmp_path / "run", deadline=900))


@pytest.mark.slow
def test_five_kills_at_random_moments(tmp_path: Path) -> None:
    import random

    rng = random.Random(13)
    _check(run_single(1000, [round(rng.uniform(0.5, 12.0), 2) for _ in range(5)], tmp_path / "run", deadline=900))
