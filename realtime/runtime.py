"""Where the real-time state lives: settings read once, and one ``Runtime`` per event loop.

A server process runs one event loop, but tests run one loop per test (and the publisher thread
runs one of its own), and asyncio objects (tasks, futures, connections) belong to the loop that
made them. So everything stateful of a loop hangs off its ``Runtime``: the hub, the keep-alive
ticker, the sender, the shared history reads of resuming viewers, and its parts
(``Runtime.part``): the Redis clients (``realtime.clients``), and what the layers above keep
per loop (presence's tracker, the product's tap batchers) without this package knowing them.
Runtimes of loops that have closed are dropped.

What the whole process shares is kept here too: the frozen ``RealtimeConfig`` and the history
store (one per process, used from every thread), and ``shared`` parts (presence's store).

One ``setting_changed`` receiver resets it all, like Channels' ``ChannelLayerManager``: a
change of ``REALTIME`` rebuilds the config, the store and every runtime (keeping the parts of
the layers above); a change of another setting drops the parts registered under its name
(``setting=``). Tests get a fresh runtime per loop from this one place.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from realtime.coalesce import NextFlight
from realtime.conf import RealtimeConfig
from realtime.keepalive import KeepAliveTicker
from realtime.sender import Sender

if TYPE_CHECKING:
    from realtime.backends.base import HistoryStore, Replay
    from realtime.hub import Hub

T = TypeVar("T")


class _Part:
    """Something a layer keeps per loop or per process, and the setting it was built from."""

    __slots__ = ("setting", "value")

    def __init__(self, value: Any, setting: str | None) -> None:
        self.value = value
        self.setting = setting


def _get_part(
    parts: dict[Hashable, _Part], key: Hashable, make: Callable[[], T], setting: str | None
) -> T:
    part = parts.get(key)
    if part is None:
        part = parts[key] = _Part(make(), setting)
    return cast(T, part.value)


class Runtime:
    """The real-time state of one event loop."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        config: RealtimeConfig,
        history: HistoryStore,
        parts: dict[Hashable, _Part],
    ) -> None:
        self.loop = loop
        self.config = config
        self.history = history
        self.ticker = KeepAliveTicker(loop)
        self.sender = Sender(loop, history)
        # Viewers resuming at once (a reconnect storm) mostly resume from the same id: they
        # share one read of the history (started after each of them joined the hub) and its
        # decoded events.
        self.replays: NextFlight[tuple[str, int | None], Replay] = NextFlight(
            lambda key: history.replay(*key)
        )
        self._hub: Hub | None = None
        self._parts = parts  # shared with the runtime a change of REALTIME replaced

    @property
    def hub(self) -> Hub:
        """This loop's fan-out, made by the history store on first use (a loop that only
        publishes, as the publisher thread's, never makes one)."""
        if self._hub is None:
            config = self.config
            self._hub = self.history.make_hub(
                flush_interval=config.flush_interval,
                storm_joins=config.storm_joins,
                storm_share=config.storm_fanout_share,
                snapshot_order=dict(config.snapshot_order),
                latest_wins=config.latest_wins,
            )
        return self._hub

    def part(self, key: Hashable, make: Callable[[], T], *, setting: str | None = None) -> T:
        """What a layer above keeps for this loop under ``key``, made with ``make()`` on first
        use; dropped (and closed, if it has ``close()``) when ``setting`` changes."""
        return _get_part(self._parts, key, make, setting)


class _Process:
    """What one process builds from ``REALTIME``: the config, the history store, the
    runtimes."""

    def __init__(self) -> None:
        self.config = RealtimeConfig.from_settings()
        self.history: HistoryStore = import_string(self.config.history_backend)(
            size=self.config.history_size,
            ttl=self.config.history_ttl,
            redis_url=self.config.redis_url,
            key_prefix=self.config.key_prefix,
        )
        self.runtimes: dict[asyncio.AbstractEventLoop, Runtime] = {}

    def runtime(self, loop: asyncio.AbstractEventLoop) -> Runtime:
        found = self.runtimes.get(loop)
        if found is None:
            with _lock:
                for stale in [other for other in _loop_parts if other.is_closed()]:
                    del _loop_parts[stale]
                for stale in [other for other in self.runtimes if other.is_closed()]:
                    del self.runtimes[stale]
                found = self.runtimes.get(loop)
                if found is None:
                    parts = _loop_parts.setdefault(loop, {})
                    found = self.runtimes[loop] = Runtime(loop, self.config, self.history, parts)
        return found


def _drop(parts: dict[Hashable, _Part], setting: str, *, closing: bool) -> None:
    """Drop the parts built from ``setting``, closing them (if they have ``close()``) when
    ``closing`` (not on a closed loop)."""
    for key, part in list(parts.items()):
        if part.setting == setting:
            del parts[key]
            if closing:
                close = getattr(part.value, "close", None)
                if close is not None:
                    close()


_process: _Process | None = None
# The parts of the layers above, per loop and per process: not built from REALTIME, so they
# outlive a change of it.
_loop_parts: dict[asyncio.AbstractEventLoop, dict[Hashable, _Part]] = {}
_shared: dict[Hashable, _Part] = {}
_lock = threading.RLock()  # the publisher thread and the server's loop may both ask first


def _the_process() -> _Process:
    global _process
    process = _process
    if process is None:
        with _lock:
            if _process is None:
                _process = _Process()
            process = _process
    return process


def runtime() -> Runtime:
    """The running event loop's runtime."""
    return _the_process().runtime(asyncio.get_running_loop())


def config() -> RealtimeConfig:
    """The process's real-time settings."""
    return _the_process().config


def get_history() -> HistoryStore:
    """The configured history store (one per process)."""
    return _the_process().history


def get_hub() -> Hub:
    """The running event loop's hub."""
    return runtime().hub


def shared(key: Hashable, make: Callable[[], T], *, setting: str | None = None) -> T:
    """What a layer above keeps once per process under ``key`` (presence's store), made with
    ``make()`` on first use; dropped (and closed) when ``setting`` changes."""
    part = _shared.get(key)
    if part is not None:
        return cast(T, part.value)
    with _lock:
        return _get_part(_shared, key, make, setting)


def _reset(*, setting: str, **kwargs: Any) -> None:
    global _process
    with _lock:
        if setting == "REALTIME":
            _process = None
        for loop, parts in list(_loop_parts.items()):
            _drop(parts, setting, closing=not loop.is_closed())
        _drop(_shared, setting, closing=True)


setting_changed.connect(_reset)
