"""``manage.py loadtest``'s checks before a run: the driver's senders per broadcast, and
refusing a run whose servers could not hold their connections."""

from __future__ import annotations

import resource

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from loadtest.management.commands.loadtest import senders_per_broadcast


def test_each_broadcast_gets_senders_enough_to_stay_under_the_comment_limit(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "COMMENT": (5, 10.0)}  # 0.5/s per user
    assert senders_per_broadcast(1.0, users=100) == 3  # 0.33/s each
    assert senders_per_broadcast(0.1, users=100) == 1
    assert senders_per_broadcast(50.0, users=100) == 100  # no more than there are users


def test_a_run_over_the_open_files_limit_is_refused_before_it_starts():
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    with pytest.raises(CommandError, match="open-files limit"):
        call_command("loadtest", viewers=limit, redis_url="redis://127.0.0.1:1/0", no_migrate=True)


def test_a_run_whose_viewer_workers_would_be_over_the_limit_is_refused():
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    with pytest.raises(CommandError, match="viewer worker"):
        call_command(
            "loadtest",
            viewers=limit,
            servers=4,
            workers=1,
            redis_url="redis://127.0.0.1:1/0",
            no_migrate=True,
        )
