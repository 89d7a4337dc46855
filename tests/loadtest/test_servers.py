"""What the load tool reads off its server processes."""

from __future__ import annotations

from loadtest.servers import StormMemory


def test_a_storms_memory_is_its_highest_total_and_the_reading_when_all_were_back():
    readings = iter([[100, 100], [150, 140], [170, 90], [120, 120]])
    memory = StormMemory(lambda: next(readings))
    for back in (False, False, False, True):
        memory.note(back=back)
    assert memory.kb == {"peak": [150, 140], "back": [120, 120]}


def test_a_server_not_measured_never_hides_a_measured_peak():
    readings = iter([[None, 100], [200, 100], [None, 300]])
    memory = StormMemory(lambda: next(readings))
    for _ in range(3):
        memory.note(back=False)
    assert memory.kb == {"peak": [200, 100]}
