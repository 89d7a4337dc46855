"""The abuse list of issue 15, as an attacker would run it, against a running site on this
machine. Prints one line per probe: what was tried, what came back, and whether it held.

    .venv/bin/python tools/abuse.py http://127.0.0.1:8000 --broadcast 1

Run it against a process started with the documented command line (docs/operations.md), or
through the documented nginx block. It creates accounts (sign-up) and comments on the given
live broadcast; every loop is bounded, and only loopback addresses are accepted as targets.
Client addresses: requests come from 127.0.0.x source addresses (any of them is this machine),
so a limit per address can be seen to hold for one "client" and not for another.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import re
import sys
import time
import uuid
import warnings
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlparse

from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

PASSWORD = "Abuse-horse-battery-9"
warnings.filterwarnings("ignore", category=DeprecationWarning)  # websockets' sync connect()


class Client:
    """HTTP from one source address, with cookies and Django's CSRF token."""

    def __init__(self, base: str, source: str = "127.0.0.1") -> None:
        url = urlparse(base)
        self.host, self.port, self.source = url.hostname, url.port or 80, source
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body=None, headers=None, form=False):
        connection = http.client.HTTPConnection(
            self.host, self.port, timeout=15, source_address=(self.source, 0)
        )
        all_headers = {"Host": f"{self.host}:{self.port}", **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if "csrftoken" in self.cookies:
            all_headers["X-CSRFToken"] = self.cookies["csrftoken"]
            all_headers["Referer"] = f"http://{self.host}:{self.port}/"
        data = None
        if body is not None:
            data = urlencode(body).encode() if form else json.dumps(body).encode()
            all_headers["Content-Type"] = (
                "application/x-www-form-urlencoded" if form else "application/json"
            )
        connection.request(method, path, body=data, headers=all_headers)
        response = connection.getresponse()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        payload = response.read()
        connection.close()
        return response.status, response.headers, payload


def sign_up(base: str, source: str, name: str) -> tuple[int, Client]:
    client = Client(base, source)
    _, _, page = client.request("GET", "/accounts/signup/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    form = {"username": name, "password1": PASSWORD, "password2": PASSWORD}
    form["csrfmiddlewaretoken"] = token.group(1).decode() if token else ""
    status, _, _ = client.request("POST", "/accounts/signup/", form, form=True)
    return status, client


def token_status(base: str, source: str, username: str, password: str, **headers) -> int:
    body = {"username": username, "password": password}
    return Client(base, source).request("POST", "/api/auth/token/", body, headers)[0]


def report(name: str, held: bool, detail: str) -> bool:
    print(f"{'held ' if held else 'FAIL '} {name}: {detail}", flush=True)
    return held


def probe_500s(base: str, owner: str) -> list[bool]:
    c = Client(base)
    _, _, answer = c.request("POST", "/api/auth/token/", {"username": owner, "password": PASSWORD})
    c.cookies.clear()
    deep = '{"title": ' + "[" * 1000 + "]" * 1000 + "}"
    probes = {
        "forged comments cursor": ("GET", "/api/broadcasts/1/comments/?cursor=cj0xJnA9JTI3", None),
        "5,000 SSE query parameters": (
            "GET",
            "/sse/broadcasts/1/?" + "&".join(f"p{i}=1" for i in range(5000)),
            None,
        ),
        "static path traversal": ("GET", "/static/..%2f..%2fmanage.py", None),
    }
    results = []
    for name, (method, path, body) in probes.items():
        status = c.request(method, path, body)[0]
        results.append(report(name, 400 <= status < 500, f"HTTP {status}"))
    auth = {"Authorization": f"Token {json.loads(answer)['token']}"}
    status = c.request("POST", "/api/broadcasts/", deep, headers=auth)[0]
    results.append(report("JSON nested 1,000 deep", 400 <= status < 500, f"HTTP {status}"))
    return results


def probe_sign_in(base: str, owner: str) -> list[bool]:
    codes = [
        token_status(base, "127.0.0.2", owner, "wrong", **{"X-Forwarded-For": f"10.0.{i}.1"})
        for i in range(60)
    ]
    first = codes.index(429) + 1 if 429 in codes else None
    results = [
        report(
            "60 bad sign-ins, a new X-Forwarded-For each",
            first is not None,
            f"first 429 at attempt {first}",
        )
    ]
    status = token_status(base, "127.0.0.3", owner, PASSWORD)
    results.append(
        report(
            "the owner's right password from elsewhere after that", status == 200, f"HTTP {status}"
        )
    )
    status = token_status(base, "127.0.0.4", f"someone-{uuid.uuid4().hex[:6]}", "x")
    results.append(report("anyone else signing in after that", status == 400, f"HTTP {status}"))
    return results


def probe_spam(base: str, broadcast: int) -> tuple[list[bool], list[Client]]:
    started = time.monotonic()
    outcomes = [sign_up(base, "127.0.0.5", f"spam-{uuid.uuid4().hex[:8]}") for _ in range(12)]
    made = sum(1 for status, _ in outcomes if status == 302)
    results = [
        report(
            "12 sign-ups from one address",
            made < 12,
            f"{made} accounts in {time.monotonic() - started:.1f} s",
        )
    ]
    accounts = [client for status, client in outcomes if status == 302]
    path = f"/api/broadcasts/{broadcast}/comments/"
    statuses = []
    started = time.monotonic()
    for i in range(60):
        client = accounts[i % len(accounts)] if accounts else Client(base, "127.0.0.5")
        statuses.append(client.request("POST", path, {"text": f"spam {i}"})[0])
    accepted = statuses.count(201)
    results.append(
        report(
            "60 comments in a burst from one address",
            accepted < 60,
            f"{accepted} accepted in {time.monotonic() - started:.1f} s, "
            f"statuses {sorted(set(statuses))}",
        )
    )
    status, one = sign_up(base, "127.0.0.6", f"repeat-{uuid.uuid4().hex[:8]}")
    if status == 302:
        text = f"same text {uuid.uuid4().hex[:6]}"
        first, again = (one.request("POST", path, {"text": text})[0] for _ in range(2))
        results.append(
            report("the same comment twice", again == 400, f"HTTP {first}, then {again}")
        )
    return results, accounts


def probe_streams(base: str, broadcast: int, account: Client | None) -> list[bool]:
    url = urlparse(base)
    ws_url = f"ws://{url.hostname}:{url.port}/ws/broadcasts/{broadcast}/"
    origin = f"http://{url.hostname}:{url.port}"
    results = []
    headers = (
        {"Cookie": "; ".join(f"{k}={v}" for k, v in account.cookies.items())} if account else {}
    )
    for who, extra, source in (
        ("one user", headers, "127.0.0.7"),
        ("one address, anonymous", {}, "127.0.0.8"),
    ):
        sockets, refused = [], 0
        for _ in range(300):
            try:
                ws = connect(
                    ws_url,
                    origin=origin,
                    additional_headers=extra,
                    source_address=(source, 0),
                    open_timeout=5,
                )
                ws.recv(timeout=5)
                sockets.append(ws)
            except (ConnectionClosed, InvalidStatus, TimeoutError, OSError):
                refused += 1
        status = Client(base).request("GET", f"/api/broadcasts/{broadcast}/viewers/")[2]
        results.append(
            report(
                f"300 WebSockets as {who}",
                refused > 0,
                f"{len(sockets)} open, {refused} refused; viewers {json.loads(status)['count']}",
            )
        )
        for ws in sockets:
            ws.close()
        time.sleep(1)
    try:
        with connect(ws_url, origin=origin, max_size=None) as ws:
            ws.recv(timeout=5)
            ws.send('{"type": "comment", "text": "' + "x" * (1024 * 1024) + '"}')
            while True:
                ws.recv(timeout=10)
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd else None
        results.append(
            report(
                "a 1 MiB WebSocket message (uvicorn reads 16 MiB by default)",
                code == 1009,
                f"closed {code}",
            )
        )
    for bad in (
        f"http://{url.hostname}:9999",
        f"HTTP://{url.hostname}",
        f"https://{url.hostname}:{url.port}",
    ):
        try:
            with connect(ws_url, origin=bad, open_timeout=5) as ws:
                ws.recv(timeout=5)
                accepted = True
        except (InvalidStatus, ConnectionClosed):
            accepted = False
        results.append(
            report(
                f"WebSocket from Origin {bad}", not accepted, "accepted" if accepted else "refused"
            )
        )
    return results


def probe_small_holes(base: str) -> list[bool]:
    c = Client(base, "127.0.0.9")
    _, headers, _ = c.request("GET", "/")
    results = [
        report(
            "Content-Security-Policy on pages",
            "Content-Security-Policy" in headers,
            headers.get("Content-Security-Policy", "none")[:60],
        ),
        report(
            "Permissions-Policy on pages",
            "Permissions-Policy" in headers,
            headers.get("Permissions-Policy", "none")[:60],
        ),
    ]
    status, _, body = c.request("GET", "/api/presence/?user_ids=1,2,3")
    hidden = status == 200 and all(v["last_seen"] is None for v in json.loads(body).values())
    results.append(report("anonymous /api/presence/ last_seen", hidden, body[:80].decode()))
    status = c.request("GET", "/metrics", headers={"X-Forwarded-For": "127.0.0.1"})[0]
    results.append(
        report("/metrics from a client (via 127.0.0.9)", status == 404, f"HTTP {status}")
    )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the site, e.g. http://127.0.0.1:8000 (loopback only)")
    parser.add_argument("--broadcast", type=int, required=True, help="a live broadcast's id")
    args = parser.parse_args()
    host = urlparse(args.base).hostname or ""
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        parser.error("only a site on this machine (loopback) may be the target")
    owner = f"owner-{uuid.uuid4().hex[:6]}"
    sign_up(args.base, "127.0.0.10", owner)
    results = probe_500s(args.base, owner) + probe_sign_in(args.base, owner)
    spam, accounts = probe_spam(args.base, args.broadcast)
    results += spam + probe_streams(args.base, args.broadcast, accounts[0] if accounts else None)
    results += probe_small_holes(args.base)
    print(f"{results.count(True)} passed, {results.count(False)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
