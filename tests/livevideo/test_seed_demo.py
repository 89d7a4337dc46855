"""``manage.py seed_demo``: demo data a newcomer can sign in to, safe to run again."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db.models import Count

from livevideo import selectors, services
from livevideo.management.commands.seed_demo import PASSWORD
from livevideo.models import Broadcast, BroadcastStatus, Comment, Reaction
from tests.servers import ROOT

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_runs_twice_without_duplicating():
    first = _seed()
    counts = (Broadcast.objects.count(), Comment.objects.count(), Reaction.objects.count())

    second = _seed()

    assert (Broadcast.objects.count(), Comment.objects.count(), Reaction.objects.count()) == counts
    for output in (first, second):
        assert f"demo_broadcaster / {PASSWORD}" in output
        assert f"alice / {PASSWORD}" in output
        assert f"bob / {PASSWORD}" in output


def test_accounts_sign_in_with_the_printed_password():
    _seed()
    broadcaster = authenticate(username="demo_broadcaster", password=PASSWORD)
    assert broadcaster is not None
    assert broadcaster.is_staff
    assert broadcaster.groups.filter(name=services.BROADCASTERS_GROUP).exists()
    for name in ("alice", "bob"):
        viewer = authenticate(username=name, password=PASSWORD)
        assert viewer is not None
        assert not viewer.is_staff


def test_one_of_each_status_with_live_totals_matching_the_reactions():
    _seed()
    by_status = dict(
        Broadcast.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    assert by_status == {
        BroadcastStatus.LIVE: 1,
        BroadcastStatus.SCHEDULED: 1,
        BroadcastStatus.ENDED: 1,
    }
    live = Broadcast.objects.get(status=BroadcastStatus.LIVE)
    stored = dict(
        Reaction.objects.filter(broadcast=live)
        .values_list("kind")
        .annotate(n=Count("id"))
        .values_list("kind", "n")
    )
    totals = selectors.reaction_totals(broadcast_id=live.pk)
    assert stored
    assert {kind: n for kind, n in totals["totals"].items() if n} == stored
    assert totals["total"] == Reaction.objects.filter(broadcast=live).count()
    assert selectors.comments_count(broadcast_id=live.pk) >= 3


def test_a_fresh_database_seeds_without_errors(tmp_path):
    """The reaction totals seed_demo announces are built and sent before the command exits
    (they used to fail with "cannot schedule new futures after interpreter shutdown")."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"}
    env.pop("REDIS_URL", None)
    for args in (["migrate", "-v0"], ["seed_demo"]):
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    assert "Demo data ready" in done.stdout
    assert "Traceback" not in done.stderr, done.stderr
