"""``manage.py loadtest``: real server processes, many viewers, measured end to end.

``runner`` orchestrates (data, servers, phases), ``worker`` processes hold the viewers
(``client``: minimal WebSocket and SSE receivers on uvloop), a ``driver`` process posts reactions
and comments over REST, ``stats`` holds the pure accounting and ``report`` prints and plots it.
``baseline`` is the tutorial-style Channels app kept as a benchmark fixture.
"""
