"""The media suite: real nginx with Debian's RTMP module (``manage.py mediaserver``) on spare
ports, fed by ffmpeg pushing a synthetic source over RTMP, reporting to this test process's
live server (hooks and sweeps). Runs in its own pytest invocation (``make test-media``;
``.ci/media`` installs nginx). Without nginx it skips, and under ``CI=true`` it fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.media.servers import SECRET, MediaServer, require_nginx


@pytest.fixture
def mediaserver(live_server, transactional_db, settings, tmp_path) -> Iterator[MediaServer]:
    require_nginx()
    settings.LIVE_VIDEO = {
        **settings.LIVE_VIDEO,
        "ROOT": str(tmp_path),
        "HOOK_SECRET": SECRET,
        "RECONNECT_GRACE": 4,
    }
    server = MediaServer(tmp_path, f"{live_server.url}/media-hooks/")
    yield server
    server.stop()
