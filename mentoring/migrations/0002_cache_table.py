from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    # The embedded default keeps its shared cache (rate limits, MFA) in a database table.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("mentoring", "0001_initial")]
    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
