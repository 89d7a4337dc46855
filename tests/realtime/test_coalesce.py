"""``NextFlight``: concurrent callers share one load that started after they asked."""

from __future__ import annotations

import asyncio

import pytest

from realtime.coalesce import NextFlight


class Source:
    """A load that counts its calls and can be held open."""

    def __init__(self) -> None:
        self.calls = 0
        self.version = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.started = asyncio.Event()

    async def load(self, key: str) -> tuple[str, int]:
        self.calls += 1
        seen = self.version  # what the load reads, at its start
        self.started.set()
        await self.gate.wait()
        return key, seen


async def test_callers_at_once_share_one_load():
    source = Source()
    flights = NextFlight(source.load)
    results = await asyncio.gather(*(flights.get("a") for _ in range(100)))
    assert source.calls == 1
    assert set(results) == {("a", 0)}


async def test_a_caller_never_shares_a_load_that_started_before_it_asked():
    source = Source()
    flights = NextFlight(source.load)
    source.gate.clear()
    early = asyncio.ensure_future(flights.get("a"))
    await source.started.wait()  # the first load has started and read version 0
    source.version = 1  # a change lands; the callers below ask after it
    late = [asyncio.ensure_future(flights.get("a")) for _ in range(50)]
    await asyncio.sleep(0)
    source.gate.set()
    assert await early == ("a", 0)
    assert {await task for task in late} == {("a", 1)}
    assert source.calls == 2  # however many waited


async def test_keys_load_separately():
    source = Source()
    flights = NextFlight(source.load)
    assert await asyncio.gather(flights.get("a"), flights.get("b")) == [("a", 0), ("b", 0)]
    assert source.calls == 2


async def test_a_failed_load_fails_its_callers_and_the_next_call_loads_again():
    calls = 0

    async def load(key: str) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise LookupError(key)
        return calls

    flights = NextFlight(load)
    results = await asyncio.gather(flights.get("a"), flights.get("a"), return_exceptions=True)
    assert all(isinstance(r, LookupError) for r in results)
    assert await flights.get("a") == 2


async def test_one_caller_giving_up_does_not_cancel_the_others():
    source = Source()
    flights = NextFlight(source.load)
    source.gate.clear()
    quitter = asyncio.ensure_future(flights.get("a"))
    stayer = asyncio.ensure_future(flights.get("a"))
    await asyncio.sleep(0)
    quitter.cancel()
    source.gate.set()
    assert await stayer == ("a", 0)
    with pytest.raises(asyncio.CancelledError):
        await quitter
