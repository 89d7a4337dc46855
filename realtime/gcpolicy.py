"""The cyclic garbage collector's settings for a server process holding many connections.

Each connection keeps a few hundred long-lived objects (its protocol, consumer, tasks, scope),
so ten thousand connections are millions of objects. With CPython's default thresholds
(700, 10, 10) a full collection runs whenever the long-lived objects have grown by a quarter,
and each one walks all of them, on the event loop: while viewers connect (a reconnect storm
above all) collections follow one another. Profiled in a reconnect storm, the collector was
a large part of the loop's time; what these settings changed (connects per second, the
fan-out's CPU per delivery, the same memory per connection) is in docs/performance.md.

``tune()`` moves everything loaded at start-up (Django, the app, their modules: objects that
live as long as the process) out of the collector's sight (``gc.freeze``), and collects the
young generation every ``YOUNG`` allocations instead of 700, the middle one every
``MIDDLE`` young collections and everything only after ``OLD`` middle ones (and, as before,
only once the long-lived objects have grown by a quarter). Cycles are still collected; they
live a little longer.
"""

from __future__ import annotations

import gc

YOUNG = 100_000
MIDDLE = 20
OLD = 100


def tune() -> None:
    """Apply the policy to this process (idempotent): call once the application is loaded."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
