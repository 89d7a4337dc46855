"""Through the documented nginx config: the client address is the one nginx saw, whatever the
client writes in X-Forwarded-For, so sign-in limits hold and do not lock out everyone."""

from __future__ import annotations

import uuid

from tests.proxy.conftest import PASSWORD


def test_a_forged_forwarded_for_does_not_escape_the_sign_in_limit(site):
    codes = [
        site.token("wrong", source="127.0.0.2", **{"X-Forwarded-For": f"10.{i}.0.1"})
        for i in range(4)
    ]
    assert codes == [400, 400, 400, 429]


def test_one_guesser_does_not_lock_out_everyone_behind_the_proxy(site):
    for _ in range(4):
        site.token("wrong", source="127.0.0.3")
    assert site.token(PASSWORD, source="127.0.0.4") == 200


def test_both_processes_share_the_limit(site):
    # nginx sends requests to the two processes in turn; the count is in the shared Redis.
    source = f"127.0.{uuid.uuid4().int % 200 + 10}.5"
    codes = [site.token("wrong", source=source) for _ in range(6)]
    assert codes == [400, 400, 400, 429, 429, 429]


def test_metrics_are_not_served_through_the_proxy(site):
    assert site.request("GET", "/metrics")[0] == 404
