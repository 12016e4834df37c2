from django.apps import AppConfig


class MentoringConfig(AppConfig):
    name = "mentoring"
    verbose_name = "Org directory and accounts"

    def ready(self):
        from . import audit  # noqa: F401 - connects the sign-in receivers of the audit log
        from . import auth_policy  # noqa: F401 - stamps each sign-in for the session time limits
