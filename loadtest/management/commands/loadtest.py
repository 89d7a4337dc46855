"""``manage.py loadtest``: measure the real-time stream under load, end to end.

Starts server processes (or targets running ones with ``--target PORT``), connects viewers over
WebSocket and SSE from worker processes, drives reactions and comments over REST, and reports
deliveries/s, latency percentiles, loss, duplication, convergence, connect rate, server CPU and
memory: a table and one line on stdout, a JSON file and a latency plot in ``--out``.
``--broadcasts N`` runs many live broadcasts at once, the viewers spread Zipf-like over them,
and adds latency per audience size, exactness per broadcast, Redis commands/s, subscriptions
per server process and (with ``--quiet S``) what idle topics cost.
``--proxy`` puts Debian's nginx, configured with ``deploy/nginx.conf``, in front of the servers
and sends every viewer and the driver through it; ``--rolling-restart`` then restarts each
server in turn during the drive and reports how long viewers were away, the latency meanwhile
and when the viewer count was right again.
``--regions N`` spreads the servers and the viewers over N private regions joined by delaying
links (``loadtest/regions.py``) and adds the latency per region and what crosses the links.
``--compare baseline,uvicorn`` runs several servers one after another in the same invocation,
so their ratio is measured under the same machine load. See ``docs/performance.md``.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.models import Count, Sum
from rest_framework.authtoken.models import Token

from livevideo import services
from livevideo.models import Comment, Reaction
from livevideo.ratelimit.conf import rate_limits
from loadtest import report, runner
from loadtest.proxy import FILES_PER_CONNECTION
from loadtest.servers import SERVERS

BROADCASTER = "loadtest_broadcaster"


def database_url() -> str:
    """The URL of the database this process uses (the test database under pytest)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def setup_data(config: runner.LoadConfig) -> dict[str, Any]:
    """``config.broadcasts`` fresh live broadcasts and ``config.users`` users with API tokens,
    via the services."""
    User = get_user_model()
    broadcaster = User.objects.filter(username=BROADCASTER).first() or services.user_create(
        username=BROADCASTER, password=os.urandom(16).hex()
    )
    services.broadcaster_grant(user=broadcaster)
    tokens = []
    for i in range(config.users):
        user, created = User.objects.get_or_create(username=f"loadtest_{i}")
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        tokens.append(Token.objects.get_or_create(user=user)[0].key)
    ids = []
    for n in range(config.broadcasts):
        title = f"Load test {datetime.now(UTC):%Y-%m-%d %H:%M:%S}"
        title += f" #{n + 1}" if config.broadcasts > 1 else ""
        broadcast = services.broadcast_create(broadcaster=broadcaster, title=title)
        services.broadcast_start(broadcast=broadcast, actor=broadcaster)
        ids.append(broadcast.pk)

    def stored() -> dict[str, int]:
        comments = Comment.objects.filter(broadcast_id__in=ids)
        return {
            "reactions": Reaction.objects.filter(broadcast_id__in=ids).count(),
            "comments": comments.count(),
            "comment_sum": int(comments.aggregate(s=Sum("pk"))["s"] or 0),
        }

    def stored_by_broadcast() -> dict[int, dict[str, int]]:
        out = {pk: {"comments": 0, "comment_sum": 0} for pk in ids}
        rows = (
            Comment.objects.filter(broadcast_id__in=ids)
            .values("broadcast_id")
            .annotate(comments=Count("pk"), comment_sum=Sum("pk"))
        )
        for row in rows:
            out[row["broadcast_id"]] = {
                "comments": row["comments"],
                "comment_sum": row["comment_sum"],
            }
        return out

    return {
        "broadcast_ids": ids,
        "tokens": tokens,
        "stored": stored,
        "stored_by_broadcast": stored_by_broadcast,
    }


def senders_per_broadcast(comments_per_sec: float, users: int) -> int:
    """WebSocket senders each broadcast needs so its comments stay well under the per-user
    limit (two thirds of it): the driver's ``sockets_per_broadcast``."""
    hits, seconds = rate_limits().comment
    return max(1, min(users, math.ceil(1.5 * comments_per_sec * seconds / hits)))


SPARE_FILES = 200  # a server's own files, its database and Redis connections


def check_open_files(config: runner.LoadConfig) -> None:
    """Refuse a run whose processes cannot hold their connections: each has at most the
    open-files limit (the servers and viewer workers inherit ours), viewers and the driver's
    sockets spread evenly over the servers, viewers over the workers. (The viewers' source
    ports need no check while the limit is under the ephemeral port range: a source port is
    unique per destination, and a server port takes no more connections than the limit.)"""
    if config.targets or config.ingest:
        return
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    per_worker = -(-config.viewers // config.workers)
    if per_worker + SPARE_FILES > limit:
        raise CommandError(
            f"Each viewer worker would hold ~{per_worker:,} sockets, over its open-files limit "
            f"({limit:,}, less {SPARE_FILES} spare): use more --workers."
        )
    sockets = 0 if config.drive == "rest" else config.users
    if config.drive == "ws":
        sockets += (config.broadcasts - 1) * config.sockets_per_broadcast
    streams = config.viewers + sockets + config.connections
    each = -(-streams // config.servers)
    if each + SPARE_FILES > limit:
        raise CommandError(
            f"Each server process would hold ~{each:,} connections, over its open-files limit "
            f"({limit:,}, less {SPARE_FILES} spare): use more --servers or fewer --viewers."
        )
    # nginx holds two sockets per stream; a worker may take a little more than its share.
    per_worker = streams * FILES_PER_CONNECTION * 5 // 4 // config.proxy_workers
    if config.proxy and per_worker + SPARE_FILES > limit:
        raise CommandError(
            f"Each nginx worker would hold ~{per_worker:,} sockets, over its open-files limit "
            f"({limit:,}): use more --proxy-workers."
        )


def check_rolling_restart(config: runner.LoadConfig) -> None:
    """A rolling restart needs somewhere for the viewers to go (the proxy, a second server)
    and a driver that comes back by itself (REST; its WebSockets would not)."""
    if not config.rolling_restart:
        return
    if not config.proxy or config.targets or config.servers < 2:
        raise CommandError("--rolling-restart needs --proxy and --servers 2 or more.")
    if config.drive != "rest" or config.broadcasts > 1:
        raise CommandError("--rolling-restart drives over REST, on one broadcast.")


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "load_before": os.getloadavg(),
    }


class Command(BaseCommand):
    help = "Load-test the real-time stream with real server processes, Redis and the database."

    def add_arguments(self, parser: CommandParser) -> None:
        add = parser.add_argument
        add("--viewers", type=int, default=10_000)
        add("--sse-percent", type=int, default=10, help="share of viewers on SSE (0-100)")
        add("--workers", type=int, default=4, help="viewer client processes")
        add("--reactions", type=float, default=100.0, help="reactions posted per second")
        add("--comments", type=float, default=5.0, help="comments per second (per broadcast)")
        add("--duration", type=float, default=60.0, help="seconds of driving")
        add("--server", default="uvicorn", choices=sorted(SERVERS))
        add("--compare", default="", help="comma-separated servers to run one after another")
        add("--servers", type=int, default=1, help="server processes (ports --port, +1, ...)")
        add("--port", type=int, default=8100)
        add("--target", type=int, action="append", default=[], help="port of a running server")
        add("--users", type=int, default=100, help="users the driver posts as")
        add("--connections", type=int, default=32, help="driver keep-alive connections")
        add("--storm", action="store_true", help="drop and resume every viewer half-way")
        add("--ingest", action="store_true", help="no viewers, reactions only (0/s: unpaced)")
        add(
            "--drive",
            default="rest",
            choices=["rest", "ws", "page"],
            help="how to send them (page: reactions over WebSocket, comments over REST)",
        )
        add("--broadcasts", type=int, default=1, help="live broadcasts (viewers spread Zipf-like)")
        add("--zipf", type=float, default=1.25, help="the spread's exponent (--broadcasts > 1)")
        add("--quiet", type=float, default=0.0, help="seconds subscribed and idle before driving")
        add("--proxy", action="store_true", help="everyone through nginx (deploy/nginx.conf)")
        add("--proxy-workers", type=int, default=1, help="nginx worker processes")
        add(
            "--rolling-restart",
            action="store_true",
            help="restart each server in turn during the drive (needs --proxy, --drive rest)",
        )
        add("--regions", type=int, default=0, help="servers and viewers over 2-3 regions")
        add("--region-delay", type=float, default=0.075, help="seconds one way between regions")
        add(
            "--no-drain",
            action="store_true",
            help="restart without taking each server out of nginx first (round 7's way)",
        )
        add("--redis-url", default=os.environ.get("REDIS_URL", ""))
        add("--out", default="bench-results", help="folder for the JSON and the PNG")
        add("--no-migrate", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["redis_url"]:
            raise CommandError("Give --redis-url (or REDIS_URL): servers share state through it.")
        if not options["no_migrate"]:
            call_command("migrate", verbosity=0)
        base = runner.LoadConfig(
            database_url=database_url(),
            redis_url=options["redis_url"],
            viewers=options["viewers"],
            sse_percent=options["sse_percent"],
            workers=options["workers"],
            reactions_per_sec=options["reactions"],
            comments_per_sec=options["comments"],
            duration=options["duration"],
            server=options["server"],
            servers=options["servers"],
            port=options["port"],
            targets=options["target"],
            users=options["users"],
            connections=options["connections"],
            storm=options["storm"],
            ingest=options["ingest"],
            drive=options["drive"],
            broadcasts=options["broadcasts"],
            zipf=options["zipf"],
            quiet=options["quiet"],
            proxy=options["proxy"],
            proxy_workers=options["proxy_workers"],
            rolling_restart=options["rolling_restart"],
            regions=options["regions"],
            region_delay=options["region_delay"],
            drain=not options["no_drain"],
        )
        if base.broadcasts < 1:
            raise CommandError("--broadcasts must be at least 1.")
        check_rolling_restart(base)
        if base.regions and (base.proxy or base.targets or base.servers < base.regions):
            raise CommandError("--regions starts its own servers (--servers, at least one each).")
        if base.broadcasts > 1:
            spread = senders_per_broadcast(base.comments_per_sec, base.users)
            base = replace(base, sockets_per_broadcast=spread)
        check_open_files(base)
        kinds = [k.strip() for k in options["compare"].split(",") if k.strip()] or [base.server]
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        about = machine()
        reports = []
        for kind in kinds:
            if kind not in SERVERS:
                raise CommandError(f"Unknown server {kind!r}; use one of {sorted(SERVERS)}.")
            label = kind + (f" x{base.servers}" if base.servers > 1 else "")
            label += "" if base.drive == "rest" else f" {base.drive}"
            label += f" {base.broadcasts} broadcasts" if base.broadcasts > 1 else ""
            label += " via nginx" if base.proxy else ""
            label += " rolling restart" if base.rolling_restart else ""
            label += f" {base.regions} regions" if base.regions else ""
            label += " (no drain)" if base.rolling_restart and not base.drain else ""
            config = replace(base, server=kind, label=label)
            if kind == "baseline":
                config = replace(config, sse_percent=0, servers=1)  # see loadtest/baseline.py
            self.stderr.write(f"== {kind}: {config.viewers} viewers, {config.duration:.0f} s")
            reports.append(runner.run(config, setup_data, out / f"{stamp}-servers.log"))
            self.stdout.write(report.one_line(report.summarize(reports[-1])))
        about["load_after"] = os.getloadavg()
        summaries = [report.summarize(r) for r in reports]
        self.stdout.write(report.table(summaries))
        report.write_json(out / f"{stamp}.json", reports, about)
        if not base.ingest:
            report.plot(out / f"{stamp}.png", reports)
        self.stdout.write(f"machine: {about}\nwritten: {out / stamp}.json (and .png)")
