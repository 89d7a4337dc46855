"""The media server's publish hooks: the secret, bad input, and what each report changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from livevideo.models import Broadcast, BroadcastStatus, IngestState
from livevideo.video import services
from livevideo.video.config import config
from tests.factories import BroadcastFactory


def hook(client: Client, call: str, name: str, *, secret: str | None = None):
    secret = config().hook_secret if secret is None else secret
    return client.post(f"/media-hooks/{call}/?secret={secret}", {"call": call, "name": name})


@pytest.fixture
def scheduled(owner) -> Broadcast:
    return BroadcastFactory(broadcaster=owner)


def test_the_right_key_goes_live_under_the_public_name(client, scheduled: Broadcast) -> None:
    response = hook(client, "publish", scheduled.stream_key)

    assert response.status_code == 302
    assert response["Location"] == f"broadcast-{scheduled.pk}"
    scheduled.refresh_from_db()
    assert scheduled.status == BroadcastStatus.LIVE
    assert scheduled.ingest_state == IngestState.PUBLISHING
    assert scheduled.started_at
    assert scheduled.video_started_at


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("lv_not-the-key", 404),
        ("x" * 65, 400),
        ("x" * 100_000, 400),
        ("key\x00with\xffbinary", 400),
        ("", 400),
        ("../../etc/passwd", 400),
    ],
)
def test_wrong_or_malformed_keys_are_refused(client, scheduled, name: str, status: int) -> None:
    response = hook(client, "publish", name)

    assert response.status_code == status
    assert response.json()["detail"]
    scheduled.refresh_from_db()
    assert scheduled.status == BroadcastStatus.SCHEDULED


def test_the_public_name_is_no_key(client, scheduled: Broadcast) -> None:
    assert hook(client, "publish", f"broadcast-{scheduled.pk}").status_code == 404


def test_a_rotated_key_is_refused(client, scheduled: Broadcast, owner) -> None:
    old = scheduled.stream_key
    services.stream_key_rotate(broadcast=scheduled, actor=owner)

    assert hook(client, "publish", old).status_code == 404
    assert hook(client, "publish", scheduled.stream_key).status_code == 302


def test_an_ended_broadcasts_key_is_refused(client, owner) -> None:
    ended = BroadcastFactory(broadcaster=owner, ended=True)

    response = hook(client, "publish", ended.stream_key)

    assert response.status_code == 409
    assert "ended" in response.json()["detail"]


@pytest.mark.parametrize("secret", ["", "wrong", "x" * 5000])
def test_a_call_without_the_secret_is_refused(client, scheduled: Broadcast, secret: str) -> None:
    response = hook(client, "publish", scheduled.stream_key, secret=secret)

    assert response.status_code == 403
    assert "media server" in response.json()["detail"]
    scheduled.refresh_from_db()
    assert scheduled.status == BroadcastStatus.SCHEDULED


def test_get_is_not_a_hook(client) -> None:
    assert client.get(f"/media-hooks/publish/?secret={config().hook_secret}").status_code == 405


def test_going_live_by_publish_announces_it_like_go_live(
    client, scheduled: Broadcast, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    sent = []
    monkeypatch.setattr("livevideo.events.publish", lambda topic, kind, data: sent.append(kind))

    with django_capture_on_commit_callbacks(execute=True):
        hook(client, "publish", scheduled.stream_key)

    assert sent == ["broadcast.status", "broadcast.video"]


def test_publish_done_shows_reconnecting_then_the_grace_period_ends_it(
    client, scheduled: Broadcast, settings
) -> None:
    hook(client, "publish", scheduled.stream_key)

    assert hook(client, "publish-done", scheduled.stream_key).status_code == 204
    scheduled.refresh_from_db()
    assert scheduled.ingest_state == IngestState.RECONNECTING
    assert services.ingest_sweep(check_playlists=False) == []

    Broadcast.objects.filter(pk=scheduled.pk).update(
        ingest_changed_at=timezone.now() - timedelta(seconds=config().reconnect_grace + 1)
    )
    assert services.ingest_sweep(check_playlists=False) == [scheduled.pk]
    scheduled.refresh_from_db()
    assert scheduled.status == BroadcastStatus.ENDED


def test_coming_back_within_the_grace_period_stays_live(client, scheduled: Broadcast) -> None:
    hook(client, "publish", scheduled.stream_key)
    hook(client, "publish-done", scheduled.stream_key)
    Broadcast.objects.filter(pk=scheduled.pk).update(
        ingest_changed_at=timezone.now() - timedelta(seconds=config().reconnect_grace - 5)
    )

    assert hook(client, "publish", scheduled.stream_key).status_code == 302
    Broadcast.objects.filter(pk=scheduled.pk).update(
        ingest_changed_at=timezone.now() - timedelta(seconds=5)
    )
    services.ingest_sweep(check_playlists=False)
    scheduled.refresh_from_db()
    assert scheduled.status == BroadcastStatus.LIVE
    assert scheduled.ingest_state == IngestState.PUBLISHING


def test_a_stale_live_playlist_counts_as_a_missed_publish_done(
    client, scheduled: Broadcast, settings, tmp_path
) -> None:
    settings.LIVE_VIDEO = {**settings.LIVE_VIDEO, "ROOT": str(tmp_path)}
    hook(client, "publish", scheduled.stream_key)
    Broadcast.objects.filter(pk=scheduled.pk).update(
        ingest_changed_at=timezone.now() - timedelta(seconds=config().stale_after + 1)
    )

    assert services.ingest_sweep() == [scheduled.pk]
    scheduled.refresh_from_db()
    assert scheduled.ingest_state == IngestState.RECONNECTING


def test_update_drops_the_encoder_of_an_ended_broadcast(client, scheduled: Broadcast, owner):
    from livevideo import services as product

    hook(client, "publish", scheduled.stream_key)
    assert hook(client, "update", scheduled.stream_key).status_code == 204
    product.broadcast_end(broadcast=scheduled, actor=owner)

    assert hook(client, "update", scheduled.stream_key).status_code == 409


def test_a_record_done_without_a_recording_is_a_clear_4xx(
    client, scheduled: Broadcast, settings, tmp_path
) -> None:
    settings.LIVE_VIDEO = {**settings.LIVE_VIDEO, "ROOT": str(tmp_path)}

    response = hook(client, "record-done", scheduled.stream_name)

    assert response.status_code == 400
    assert "recording" in response.json()["detail"]


def test_playback_url_is_the_live_playlist_only_while_publishing(client, scheduled) -> None:
    assert client.get(f"/api/broadcasts/{scheduled.pk}/").json()["playback_url"] is None

    hook(client, "publish", scheduled.stream_key)

    body = client.get(f"/api/broadcasts/{scheduled.pk}/").json()
    assert body["playback_url"] == f"/media/hls/broadcast-{scheduled.pk}/index.m3u8"
    assert scheduled.stream_key not in str(body)


def test_the_home_page_card_shows_the_still(client, scheduled: Broadcast) -> None:
    Broadcast.objects.filter(pk=scheduled.pk).update(thumbnail="thumbs/broadcast-1.jpg")

    page = client.get("/").content.decode()

    assert '<img class="card-thumb" src="/media/thumbs/broadcast-1.jpg"' in page


def test_the_studio_shows_the_key_and_rotates_it(client, scheduled: Broadcast, owner) -> None:
    client.force_login(owner)
    old = scheduled.stream_key

    page = client.get(f"/studio/{scheduled.pk}/").content.decode()
    response = client.post(f"/studio/{scheduled.pk}/stream-key/")

    assert old in page
    assert "rtmp://127.0.0.1:1935/live" in page
    assert response.status_code == 302
    scheduled.refresh_from_db()
    assert scheduled.stream_key != old


def test_another_broadcasters_studio_key_is_404(client, scheduled: Broadcast, viewer) -> None:
    client.force_login(viewer)

    assert client.post(f"/studio/{scheduled.pk}/stream-key/").status_code == 404
    assert client.get(f"/studio/{scheduled.pk}/").status_code == 404


def test_the_sweep_hook_runs_the_sweep_for_the_media_server(client, scheduled: Broadcast):
    hook(client, "publish", scheduled.stream_key)
    hook(client, "publish-done", scheduled.stream_key)
    Broadcast.objects.filter(pk=scheduled.pk).update(
        ingest_changed_at=timezone.now() - timedelta(seconds=config().reconnect_grace + 1)
    )

    response = hook(client, "sweep", "")

    assert response.status_code == 200
    assert response.json()["changed"] == [scheduled.pk]
    scheduled.refresh_from_db()
    assert scheduled.status == BroadcastStatus.ENDED
    assert hook(client, "sweep", "", secret="wrong").status_code == 403
