"""Video: a secret stream key per broadcast, the encoder's state, the replay and the still."""

import secrets

from django.db import migrations, models

import livevideo.models


def give_each_broadcast_a_key(apps, schema_editor):
    Broadcast = apps.get_model("livevideo", "Broadcast")
    for broadcast in Broadcast.objects.only("pk").iterator():
        Broadcast.objects.filter(pk=broadcast.pk).update(
            stream_key="lv_" + secrets.token_urlsafe(24)
        )


class Migration(migrations.Migration):
    dependencies = [("livevideo", "0003_moderation")]

    operations = [
        migrations.AddField(
            model_name="broadcast",
            name="stream_key",
            field=models.CharField(max_length=64, default="", blank=True),
        ),
        migrations.RunPython(give_each_broadcast_a_key, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="broadcast",
            name="stream_key",
            field=models.CharField(
                max_length=64, unique=True, default=livevideo.models.new_stream_key
            ),
        ),
        migrations.AddField(
            model_name="broadcast",
            name="ingest_state",
            field=models.CharField(
                max_length=12,
                choices=[
                    ("idle", "No encoder"),
                    ("publishing", "Encoder connected"),
                    ("reconnecting", "Encoder gone, waiting for it to come back"),
                ],
                default="idle",
            ),
        ),
        migrations.AddField(
            model_name="broadcast",
            name="ingest_changed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="broadcast",
            name="video_started_at",
            field=models.DateTimeField(
                blank=True,
                null=True,
                help_text="When the first accepted publish began (replay's 0).",
            ),
        ),
        migrations.AddField(
            model_name="broadcast",
            name="recording",
            field=models.CharField(
                blank=True,
                max_length=200,
                help_text="The replay playlist, relative to the media root.",
            ),
        ),
        migrations.AddField(
            model_name="broadcast",
            name="thumbnail",
            field=models.CharField(
                blank=True, max_length=200, help_text="The latest still, relative to the media root."
            ),
        ),
    ]
