"""Forms for the pages and the admin. They shape input; the services hold the rules."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.validators import URLValidator

from livevideo.errors import RateLimited, ServiceError
from livevideo.models import Broadcast
from livevideo.moderation import MAX_SLOW_MODE_SECONDS
from livevideo.signin import sign_in_attempt
from realtime.clientaddress import request_client_address


class RateLimitedSignInMixin:
    """Bounds password guessing across all server processes (``livevideo.signin``): failed
    attempts count, per account and client address."""

    def clean(self):  # type: ignore[no-untyped-def]
        username = self.cleaned_data.get("username") or ""
        try:
            with sign_in_attempt(
                username=username,
                client=request_client_address(self.request),
                failure=forms.ValidationError,
            ):
                return super().clean()
        except RateLimited as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc


class SignInForm(RateLimitedSignInMixin, AuthenticationForm):
    pass


class AdminSignInForm(RateLimitedSignInMixin, AdminAuthenticationForm):
    pass


class SignupForm(UserCreationForm):
    """Username, display name and password twice; ``services.user_create`` makes the account."""

    display_name = forms.CharField(
        max_length=150,
        required=False,
        help_text="Shown next to your comments. Leave blank to use your username.",
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username", "display_name")


class ServiceErrorsMixin:
    """Shows a rule a service refused on its field (or on the whole form)."""

    def add_service_error(self, error: ServiceError) -> None:
        field = error.field if error.field in self.fields else None
        self.add_error(field, error.message)


class BroadcastForm(ServiceErrorsMixin, forms.ModelForm):
    """A broadcast's details, used by the studio and the admin (its status is never edited)."""

    # Only http(s): the stream URL ends up in a <video src>.
    stream_url = forms.URLField(
        required=False,
        max_length=500,
        label="Stream URL",
        assume_scheme="https",
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="A video URL the browser can play (MP4 or WebM; HLS in Safari).",
    )
    # Declared here so the admin keeps this widget instead of its split date/time pair.
    scheduled_for = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="When viewers should tune in (UTC).",
    )

    class Meta:
        model = Broadcast
        fields = ("title", "description", "stream_url", "scheduled_for")
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
        }


class ModerationSettingsForm(ServiceErrorsMixin, forms.ModelForm):
    """Slow mode, blocked words and links; ``moderation_settings_update`` applies them."""

    slow_mode_seconds = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_SLOW_MODE_SECONDS,
        label="Slow mode (seconds)",
        help_text="One comment per viewer per this many seconds (0 or empty: off).",
    )

    class Meta:
        model = Broadcast
        fields = ("slow_mode_seconds", "blocked_words", "allow_links", "hold_words")
        widgets = {
            "blocked_words": forms.Textarea(
                attrs={"rows": 3, "placeholder": "One per line or comma-separated"}
            ),
            "hold_words": forms.Textarea(
                attrs={"rows": 2, "placeholder": "One per line or comma-separated"}
            ),
        }

    def clean_slow_mode_seconds(self) -> int:
        return self.cleaned_data["slow_mode_seconds"] or 0


class BroadcastAdminForm(BroadcastForm, ModerationSettingsForm):
    """The admin's broadcast form: details plus the moderation settings."""

    class Meta(BroadcastForm.Meta):
        fields = (*BroadcastForm.Meta.fields, *ModerationSettingsForm.Meta.fields)


class TimeoutForm(forms.Form):
    seconds = forms.IntegerField(min_value=1)
    reason = forms.CharField(max_length=200, required=False)


class BanForm(forms.Form):
    remove_comments = forms.BooleanField(required=False)
    reason = forms.CharField(max_length=200, required=False)
