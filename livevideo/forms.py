"""Forms for the pages and the admin. They shape input; the services hold the rules."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.core.validators import URLValidator

from livevideo.errors import ServiceError
from livevideo.models import Broadcast


class SignupForm(UserCreationForm):
    """Username, display name and password twice; ``services.user_create`` makes the account."""

    display_name = forms.CharField(
        max_length=150,
        required=False,
        help_text="Shown next to your comments. Leave blank to use your username.",
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username", "display_name")


class BroadcastForm(forms.ModelForm):
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

    def add_service_error(self, error: ServiceError) -> None:
        """Show a rule the service refused on its field (or on the whole form)."""
        field = error.field if error.field in self.fields else None
        self.add_error(field, error.message)
