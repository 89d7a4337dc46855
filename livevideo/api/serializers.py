"""What the API accepts (types and sizes) and what it answers (schema only).

Input serializers only check JSON types and sizes; the rules (blank titles, http(s) URLs, live
status) belong to ``livevideo.services``. Output is built by ``livevideo.selectors`` so REST and
the real-time stream show the same shapes; the shapes are defined in ``livevideo.shapes``, and
the output serializers that describe them in the OpenAPI schema are derived from there
(``livevideo.api.schema``), never used to render.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer

from livevideo import services, shapes
from livevideo.api.schema import serializer_for
from livevideo.models import BroadcastStatus, ReactionKind
from livevideo.video.timeline import MAX_OFFSET_MS, MAX_RANGE_MS


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else: DRF's CharField would turn ``5`` into ``"5"``.

    (DRF already refuses NUL and lone surrogates, which the database could not store.)
    """

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An integer that must arrive as a JSON number, not a numeric string."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


# --- input -------------------------------------------------------------------------------


class TokenSerializer(AuthTokenSerializer):
    """``{username, password}`` -> ``{token}``; DRF's, with strict strings and sane sizes."""

    username = StrictCharField(write_only=True, max_length=150)
    password = StrictCharField(
        write_only=True, max_length=4096, trim_whitespace=False, style={"input_type": "password"}
    )


class BroadcastQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=BroadcastStatus.choices, required=False, help_text="Only broadcasts in this status."
    )


class BroadcastCreateSerializer(serializers.Serializer):
    title = StrictCharField(max_length=services.TITLE_MAX)
    description = StrictCharField(
        max_length=services.DESCRIPTION_MAX, required=False, allow_blank=True, default=""
    )
    stream_url = StrictCharField(
        max_length=500, required=False, allow_blank=True, default="", help_text="http(s) URL."
    )
    scheduled_for = serializers.DateTimeField(required=False, allow_null=True, default=None)


class CommentCreateSerializer(serializers.Serializer):
    text = StrictCharField(max_length=services.COMMENT_MAX)


class ReactionCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ReactionKind.choices)


class TimelineQuerySerializer(serializers.Serializer):
    from_ms = serializers.IntegerField(
        min_value=0,
        max_value=MAX_OFFSET_MS,
        default=0,
        help_text="Broadcast time (ms since the replay's start).",
    )
    to_ms = serializers.IntegerField(
        min_value=0,
        max_value=MAX_OFFSET_MS + MAX_RANGE_MS,
        required=False,
        help_text=f"Exclusive; at most {MAX_RANGE_MS} after from_ms.",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data.setdefault("to_ms", data["from_ms"] + MAX_RANGE_MS)
        if data["to_ms"] < data["from_ms"]:
            raise serializers.ValidationError({"to_ms": ["Must not be before from_ms."]})
        if data["to_ms"] - data["from_ms"] > MAX_RANGE_MS:
            raise serializers.ValidationError(
                {"to_ms": [f"At most {MAX_RANGE_MS} ms per request."]}
            )
        return data


class LatencyReportSerializer(serializers.Serializer):
    latency_ms = serializers.IntegerField(
        min_value=0, max_value=120_000, help_text="How far behind the camera this viewer is."
    )


# --- output: derived from ``livevideo.shapes`` (what the selectors build) -------------------

UserSerializer = serializer_for(shapes.UserData)
ReactionTotalsSerializer = serializer_for(shapes.ReactionTotals)
CommentSerializer = serializer_for(shapes.CommentData)
CommentHeldSerializer = serializer_for(shapes.CommentHeld)
ChatRulesSerializer = serializer_for(shapes.ChatRules)
BroadcastSerializer = serializer_for(shapes.BroadcastData)
BroadcastDetailSerializer = serializer_for(shapes.BroadcastDetail)
TimelineSerializer = serializer_for(shapes.Timeline)
AudienceLatencySerializer = serializer_for(shapes.AudienceLatency)
AcceptedSerializer = serializer_for(shapes.Accepted)
ViewersSerializer = serializer_for(shapes.ViewerCount)
ErrorSerializer = serializer_for(shapes.Error)


class PresenceQuerySerializer(serializers.Serializer):
    """``?user_ids=1,2,3``: comma-separated user ids, at most ``MAX_IDS`` of them."""

    MAX_IDS = 100
    # Ids are database keys: none exceeds a signed 64-bit integer (19 digits).
    MAX_ID = 2**63 - 1

    user_ids = StrictCharField(
        max_length=MAX_IDS * 21, help_text=f"Comma-separated user ids, at most {MAX_IDS}."
    )

    def validate_user_ids(self, value: str) -> list[int]:
        parts = [part.strip() for part in value.split(",") if part.strip()]
        if not parts:
            raise serializers.ValidationError("Give at least one user id.")
        if not all(part.isascii() and part.isdigit() and len(part) <= 19 for part in parts):
            raise serializers.ValidationError("User ids must be positive integers.")
        ids = list(dict.fromkeys(int(part) for part in parts))
        if not all(0 < uid <= self.MAX_ID for uid in ids):
            raise serializers.ValidationError("User ids must be positive integers.")
        if len(ids) > self.MAX_IDS:
            raise serializers.ValidationError(f"At most {self.MAX_IDS} user ids at once.")
        return ids
