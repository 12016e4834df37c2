from django.core.management.base import BaseCommand, CommandError

from mentoring.models import Role, User
from mentoring.services import MentoringError, user_grant_role, user_revoke_role


class Command(BaseCommand):
    help = "Give or take a role (hr_admin, executive, participant) from a user, e.g. the first HR admin."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("role", choices=Role.values)
        parser.add_argument("--revoke", action="store_true")

    def handle(self, *args, email, role, revoke, **options):
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"No user with email {email}. They sign up first (or use createsuperuser).")
        try:
            (user_revoke_role if revoke else user_grant_role)(user=user, role=role)
        except MentoringError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"{'Revoked' if revoke else 'Granted'} {role} {'from' if revoke else 'to'} {user.email}."))
