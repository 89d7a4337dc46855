"""``manage.py loadtest``: real server processes, many viewers, measured end to end.

``runner`` orchestrates (data, servers, phases), ``worker`` processes hold the viewers
(``client``: minimal WebSocket and SSE receivers on uvloop) as ``audience`` spreads them over
the broadcasts, a ``driver`` process posts reactions and comments over REST or WebSocket,
``stats`` holds the pure accounting, ``tally`` merges the workers' verdicts, ``redisprobe``
reads what the servers ask of Redis and ``report`` prints and plots it all.
``baseline`` is the tutorial-style Channels app kept as a benchmark fixture.
"""
