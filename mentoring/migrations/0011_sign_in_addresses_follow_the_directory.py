"""Logins whose address drifted from the directory before people could no longer change it
in Upward (allauth's email page let them add addresses and make another one primary) get
the directory's address back as their only, primary sign-in address, unless another login
already has it (left alone: HR sees the clash at the next roster import)."""

from django.db import migrations


def forwards(apps, schema_editor):
    Employee = apps.get_model("mentoring", "Employee")
    User = apps.get_model("mentoring", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    for employee_email, user_id in Employee.objects.filter(user__isnull=False, erased_at__isnull=True).values_list("email", "user_id").iterator():
        email = employee_email.strip().lower()
        user = User.objects.get(pk=user_id)
        taken = User.objects.filter(email=email).exclude(pk=user_id).exists() or EmailAddress.objects.filter(email__iexact=email, verified=True).exclude(user_id=user_id).exists()
        if user.email != email and not taken:
            user.email = email
            user.save(update_fields=["email"])
        addresses = list(EmailAddress.objects.filter(user_id=user_id))
        if len(addresses) == 1 and addresses[0].email.lower() == user.email and addresses[0].primary:
            continue
        keep = next((a for a in addresses if a.email.lower() == user.email), None)
        EmailAddress.objects.filter(user_id=user_id).exclude(pk=keep.pk if keep else None).delete()
        if keep is None:
            EmailAddress.objects.create(user_id=user_id, email=user.email, verified=True, primary=True)
        elif not keep.primary:
            keep.primary = True
            keep.save(update_fields=["primary"])


class Migration(migrations.Migration):
    dependencies = [("mentoring", "0010_leavers_lose_admin_roles"), ("account", "0009_emailaddress_unique_primary_email")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
