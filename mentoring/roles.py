"""One shared way to require a role in a view."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from .models import Role


def role_required(*roles: str):
    """Anonymous people go to the login page; signed-in people without one of `roles` get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            if not any(request.user.has_role(role) for role in roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_roles = tuple(roles)
        return wrapped

    return decorator


hr_required = role_required(Role.HR_ADMIN)
executive_required = role_required(Role.EXECUTIVE)
participant_required = role_required(Role.PARTICIPANT)


def home_url_name(user) -> str:
    """The home page a person lands on after login: their most powerful role's."""
    if user.has_role(Role.HR_ADMIN):
        return "hr_home"
    if user.has_role(Role.EXECUTIVE):
        return "executive_home"
    return "participant_home"
