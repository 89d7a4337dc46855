"""Sign-in limits that bound password guessing without letting a guesser lock the owner out.

Only failures count (a right password never does), in three windows of ``RATE_LIMITS["SIGN_IN"]``:
- per (account, client address): the limit; what a guesser from one address runs into;
- per client address, any account: five times the limit (one address trying many accounts);
- per account, all addresses: ten times the limit (a guesser with many addresses), which does
  not apply to an address the account signed in from before (within ``SIGN_IN_KNOWN_FOR``), so
  the owner signs in from home while their account is under attack.
The client address is ``realtime.clientaddress`` (trusted proxies only). django-axes was
weighed and not used: docs/operations.md, "Sign-in limits".
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

from livevideo.errors import RateLimited
from livevideo.ratelimit import get_limiter, retry_after, wait
from livevideo.ratelimit.conf import rate_limits

PER_CLIENT_FACTOR = 5
PER_ACCOUNT_FACTOR = 10


def _keys(username: str, client: str) -> tuple[str, str, str, str]:
    account = username.strip().lower()[:150]
    return (
        f"signin:fail:{account}:{client}",
        f"signin:fail-client:{client}",
        f"signin:fail-account:{account}",
        f"signin:known:{account}:{client}",
    )


def sign_in_check(*, username: str, client: str) -> None:
    """Refuse (``RateLimited``) an attempt that one of the windows above has closed."""
    limit = rate_limits().sign_in.hits
    pair, per_client, per_account, known = _keys(username, client)
    waits = [wait(pair, limit=limit), wait(per_client, limit=limit * PER_CLIENT_FACTOR)]
    if not wait(known, limit=1):
        waits.append(wait(per_account, limit=limit * PER_ACCOUNT_FACTOR))
    longest = max(waits)
    if longest:
        raise RateLimited(
            f"Too many sign-in attempts; try again in {math.ceil(longest)} s.",
            retry_after=longest,
        )


def sign_in_failed(*, username: str, client: str) -> None:
    """Count a wrong password (or unknown account) in every window."""
    limit, window = rate_limits().sign_in
    pair, per_client, per_account, _ = _keys(username, client)
    for key in (pair, per_client, per_account):
        retry_after(key, limit=limit, window=window)


def sign_in_succeeded(*, username: str, client: str) -> None:
    """Remember the address as the account's own, and forget its failures from there."""
    pair, _, _, known = _keys(username, client)
    limiter = get_limiter()
    limiter.clear(pair)
    limiter.clear(known)  # a fresh window: known for SIGN_IN_KNOWN_FOR from the latest sign-in
    limiter.hit(known, limit=1, window=rate_limits().sign_in_known_for)


@contextmanager
def sign_in_attempt(*, username: str, client: str, failure: type[Exception]) -> Iterator[None]:
    """Around checking a password: refused while a window is closed; ``failure`` raised
    inside counts as a failed attempt, anything else leaving normally as a success."""
    sign_in_check(username=username, client=client)
    try:
        yield
    except failure:
        sign_in_failed(username=username, client=client)
        raise
    sign_in_succeeded(username=username, client=client)
