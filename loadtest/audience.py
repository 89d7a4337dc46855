"""Who watches what: viewers spread over broadcasts, and the audience-size buckets reported.

A platform's audience is long-tailed: a few broadcasts hold much of it, most have a handful of
viewers. ``zipf_audiences`` spreads the viewers Zipf-like (the broadcast of rank k gets a share
proportional to ``1 / k ** exponent``); one broadcast with every viewer is the special case
the standard scenario runs.
"""

from __future__ import annotations

# One broadcast's viewers in a worker: (broadcast id, how many).
Assignment = tuple[int, int]


def zipf_audiences(viewers: int, broadcasts: int, exponent: float) -> list[int]:
    """How many of ``viewers`` watch each of ``broadcasts``, hottest first; they sum to
    ``viewers``. When there are at least as many viewers as broadcasts every broadcast has one
    (a live broadcast nobody watches is not what is measured); the rest go by Zipf weights,
    largest remainders rounded up so the sum is exact."""
    if broadcasts < 1 or viewers < 0:
        raise ValueError("broadcasts must be >= 1 and viewers >= 0")
    base = 1 if viewers >= broadcasts else 0
    spread = viewers - base * broadcasts
    weights = [1 / rank**exponent for rank in range(1, broadcasts + 1)]
    whole = sum(weights)
    exact = [spread * weight / whole for weight in weights]
    counts = [base + int(share) for share in exact]
    short = viewers - sum(counts)
    by_remainder = sorted(range(broadcasts), key=lambda i: (int(exact[i]) - exact[i], i))
    for i in by_remainder[:short]:
        counts[i] += 1
    return counts


def layout(audiences: list[Assignment], workers: int) -> list[tuple[int, list[Assignment]]]:
    """The viewers split into ``workers`` even runs, in broadcast order: for each worker, the
    global index of its first viewer and its (broadcast, count) assignments. A broadcast may
    span two workers."""
    total = sum(count for _, count in audiences)
    per_worker = -(-total // workers) if workers else 0
    out: list[tuple[int, list[Assignment]]] = []
    queue = [[broadcast, count] for broadcast, count in audiences if count > 0]
    first = 0
    while first < total:
        room, mine = min(per_worker, total - first), []
        while room:
            broadcast, left = queue[0]
            take = min(room, left)
            mine.append((broadcast, take))
            room -= take
            queue[0][1] -= take
            if queue[0][1] == 0:
                queue.pop(0)
        out.append((first, mine))
        first += sum(count for _, count in mine)
    return out


def bucket(audience: int) -> str:
    """The audience-size bucket (a decade) of a broadcast: "1-9", "10-99", "100-999", ..."""
    if audience < 1:
        return "0"
    low = 1
    while audience >= low * 10:
        low *= 10
    return f"{low}-{low * 10 - 1}"
