"""Coalescing: ``NextFlight`` (one load, started after its callers asked) and ``NextBatch`` (one
write with all its callers' items)."""

from __future__ import annotations

import asyncio

import pytest

from realtime.coalesce import NextBatch, NextFlight


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


async def test_a_caller_that_need_not_be_fresh_shares_the_load_under_way():
    source = Source()
    flights = NextFlight(source.load)
    source.gate.clear()
    early = asyncio.ensure_future(flights.get("a"))
    await source.started.wait()
    source.version = 1
    relaxed = asyncio.ensure_future(flights.get("a", fresh=False))
    await asyncio.sleep(0)
    source.gate.set()
    assert await early == await relaxed == ("a", 0)
    assert source.calls == 1
    assert await flights.get("a", fresh=False) == ("a", 1)  # nothing under way: a load


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


class Sink:
    """A write that records its batches; ``held``, each write waits for a ``release()``."""

    def __init__(self, *, held: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.held = held
        self.releases = asyncio.Semaphore(0)

    async def write(self, items: list[str]) -> None:
        self.batches.append(list(items))
        if self.held:
            await self.releases.acquire()

    def release(self) -> None:
        self.releases.release()


async def turns(count: int = 5) -> None:
    """Let the event loop run the tasks that are ready, a few turns over."""
    for _ in range(count):
        await asyncio.sleep(0)


async def test_items_added_in_one_turn_go_in_one_write_in_order():
    sink = Sink()
    batches = NextBatch(sink.write)
    await asyncio.gather(*(batches.add(f"i{n}") for n in range(100)))
    assert sink.batches == [[f"i{n}" for n in range(100)]]


async def test_items_added_during_a_write_go_in_the_next_one_and_wait_for_it():
    sink = Sink(held=True)
    batches = NextBatch(sink.write)
    first = asyncio.ensure_future(batches.add("a"))
    await turns()  # the first write is under way
    later = [asyncio.ensure_future(batches.add(item)) for item in "bc"]
    await turns()
    assert sink.batches == [["a"]]

    sink.release()
    await first

    assert sink.batches == [["a"], ["b", "c"]]
    assert not any(task.done() for task in later)  # theirs is still being written
    sink.release()
    await asyncio.gather(*later)


async def test_a_failed_write_fails_each_of_its_callers_and_the_next_write_goes_on():
    batches_seen: list[list[str]] = []

    async def write(items: list[str]) -> None:
        batches_seen.append(items)
        if len(batches_seen) == 1:
            raise LookupError(items)

    batches = NextBatch(write)
    results = await asyncio.gather(batches.add("a"), batches.add("b"), return_exceptions=True)
    assert all(isinstance(result, LookupError) for result in results)
    await batches.add("c")
    assert batches_seen == [["a", "b"], ["c"]]


async def test_a_caller_giving_up_still_has_its_item_written():
    sink = Sink(held=True)
    batches = NextBatch(sink.write)
    quitter = asyncio.ensure_future(batches.add("a"))
    stayer = asyncio.ensure_future(batches.add("b"))
    await turns()
    quitter.cancel()
    sink.release()
    await stayer
    assert sink.batches == [["a", "b"]]
    with pytest.raises(asyncio.CancelledError):
        await quitter
