"""How often a server process's threads offer each other the GIL.

A server process runs two threads that matter: the event loop (the fan-out, connects, the
REST write path's parsing) and Django's one thread for synchronous code, where every database
statement runs (``database_sync_to_async``, and the write path's batches). CPython lets a
thread that wants the GIL wait up to the switch interval (5 ms by default) for the running
one to give it up. Under load the loop always has work, so each database round trip's result
waited up to 5 ms for the GIL before the database thread could go on: a batch of a handful of
statements was held back by several such waits, and the REST writes behind it with it. At
0.2 ms those waits are a twenty-fifth. The loop gives the GIL up that often only while
another thread wants it (the database thread's Python between its round trips), and loses
nothing that shows (docs/performance.md, "What bounds each figure", REST).
"""

from __future__ import annotations

import sys

SWITCH_INTERVAL = 0.0002  # seconds


def tune() -> None:
    """Apply the policy to this process (idempotent)."""
    sys.setswitchinterval(SWITCH_INTERVAL)
