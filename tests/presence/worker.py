"""A stand-in server process for the multi-process tests: opens connections, then heartbeats.

Usage: ``python -m tests.presence.worker REDIS_URL TOPIC FIRST_USER_ID COUNT INTERVAL GRACE``.
Prints ``ready`` once its connections count, and runs until killed.
"""

from __future__ import annotations

import asyncio
import os
import sys

import django


async def serve(url: str, topic: str, first_uid: int, count: int, interval: float, grace: float):
    from presence.backends.redis import RedisPresenceStore
    from presence.tracker import Tracker

    store = RedisPresenceStore(url=url, ttl=interval + grace, grace=grace)
    tracker = Tracker(store=store, heartbeat_interval=interval, debounce=0.05, max_listed_users=50)
    for uid in range(first_uid, first_uid + count):
        user = {"id": uid, "username": f"user{uid}", "display_name": f"User {uid}"}
        await tracker.connection_opened(
            topic=topic, connection_id=f"{os.getpid()}.{uid}", user=user
        )
    print("ready", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livevideo.settings")
    django.setup()
    import realtime.publish

    # This process is about counts in the store; the events are tested in test_tracker.py.
    realtime.publish.publish = lambda *args, **kwargs: None
    url, topic, first_uid, count, interval, grace = sys.argv[1:]
    asyncio.run(serve(url, topic, int(first_uid), int(count), float(interval), float(grace)))


if __name__ == "__main__":
    main()
