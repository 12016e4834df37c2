"""People recorded as leavers before roster imports took HR admin and executive roles away
from leavers (mentoring.services.LEAVER_REVOKED_ROLES) lose them now: a rejoiner is a
participant again, whenever they left."""

from django.db import migrations

REVOKED = ("hr_admin", "executive")


def forwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    User = apps.get_model("mentoring", "User")
    leavers = User.objects.filter(employee__left_date__isnull=False)
    for group in Group.objects.filter(name__in=REVOKED):
        group.user_set.remove(*leavers.filter(groups=group))


class Migration(migrations.Migration):
    dependencies = [("mentoring", "0009_erased_identity"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
