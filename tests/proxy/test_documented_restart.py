"""The rolling restart script of docs/operations.md ("A rolling restart"), run as it is against
a real nginx (deploy/nginx.conf and deploy/nginx-main.conf) with its own first two lines: its
paths and ports, and a restart that ends each process the moment it gets SIGTERM (the worst
case: nothing it was sent is answered). Clients posting through nginx all the while get 200
every time: once a process is taken out and drained nginx sends it nothing."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from loadtest.proxy import NGINX, SITE_FILE, Proxy
from tests.servers import ROOT, free_port, http_get, wait_until

CLIENTS = 8

# A process that answers every request 200 and has no graceful stop.
UPSTREAM = """
import http.server, sys

class Answer(http.server.BaseHTTPRequestHandler):
    def answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Answer).serve_forever()
"""


def documented_script() -> str:
    """The script without its first two lines (the settings and ``restart``)."""
    text = (ROOT / "docs" / "operations.md").read_text()
    match = re.search(r"as root \(.*?\):\n```bash\n(.*?)```", text, re.S)
    assert match, "docs/operations.md has no rolling restart script"
    first, second, *rest = match.group(1).splitlines(keepends=True)
    assert (first[:5], second[:9]) == ("SITE=", "restart()"), (first, second)
    return "".join(rest)


def post_until(done: threading.Event, port: int, answers: Counter[int], failures: list[str]):
    """POST through nginx, one request after another on fresh connections, until ``done``."""
    while not done.is_set():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("POST", "/api/anything/", body=b"{}")
            response = connection.getresponse()
            response.read()
            answers[response.status] += 1
        except OSError as failed:
            failures.append(repr(failed))
        finally:
            connection.close()


def test_the_documented_rolling_restart_sends_nothing_to_a_stopping_process(nginx, tmp_path):
    upstream = tmp_path / "upstream.py"
    upstream.write_text(UPSTREAM)
    ports = [free_port(), free_port()]
    first = {}
    for port in ports:
        first[port] = subprocess.Popen([sys.executable, str(upstream), str(port)])
        (tmp_path / f"{port}.pid").write_text(str(first[port].pid))
    for port in ports:  # before nginx: one that refused it would be left out for a while
        assert wait_until(lambda p=port: http_get(f"http://127.0.0.1:{p}/")[0] == 200, timeout=30)
    proxy = Proxy.start(tmp_path / "nginx", free_port(), ports, workers=2)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "nginx"  # `nginx` in the script: this nginx, its own config and pid
    wrapper.write_text(f'#!/bin/sh\nexec {NGINX} -p {proxy.directory} -c {proxy.config} "$@"\n')
    wrapper.chmod(0o755)
    site = proxy.directory / SITE_FILE
    settings = (
        f'SITE={site} PIDFILE={proxy.directory / "nginx.pid"} PORTS="{ports[0]} {ports[1]}"\n'
        "restart() {\n"
        f'  kill -TERM "$(cat {tmp_path}/$1.pid)"\n'
        '  while ss -Hltn "sport = :$1" | grep -q .; do sleep 0.05; done\n'
        f'  {sys.executable} {upstream} "$1" >/dev/null 2>&1 & echo $! > {tmp_path}/$1.pid\n'
        "}\n"
    )
    original = site.read_text()
    answers: Counter[int] = Counter()
    failures: list[str] = []
    done = threading.Event()
    clients = [
        threading.Thread(target=post_until, args=(done, proxy.port, answers, failures))
        for _ in range(CLIENTS)
    ]
    try:
        proxy.wait_ready()
        for client in clients:
            client.start()
        run = subprocess.run(
            ["bash", "-c", settings + documented_script()],
            env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        done.set()
        for client in clients:
            client.join()
        assert run.returncode == 0, run.stderr + proxy.errors()
        assert (dict(answers), failures[:3]) == ({200: answers[200]}, [])
        assert answers[200] > 100
        # Every process was restarted, and the site file is as it was, none left `down`.
        assert all(first[p].wait(5) is not None for p in ports)
        assert site.read_text() == original
    finally:
        done.set()
        proxy.stop()
        for port in ports:
            pid = int(Path(tmp_path / f"{port}.pid").read_text())
            if pid != first[port].pid:
                os.kill(pid, 15)  # the one the script started
            first[port].kill()
            first[port].wait()
