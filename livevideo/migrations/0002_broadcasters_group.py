"""The ``broadcasters`` group: run and moderate their own broadcasts in the admin."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

PERMISSIONS = [
    "add_broadcast",
    "change_broadcast",
    "view_broadcast",
    "change_comment",
    "view_comment",
    "view_reaction",
    "view_reactiontotal",
]


def create_group(apps, schema_editor):
    # Permissions are normally made after all migrations run; make them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="broadcasters")
    group.permissions.set(
        Permission.objects.filter(content_type__app_label="livevideo", codename__in=PERMISSIONS)
    )


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="broadcasters").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("livevideo", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]
