"""User admin: roles and internal traits, validated and audited, with a link to effective access."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from apps.accounts import services, signin
from apps.accounts.models import User
from apps.accounts.usernames import username_problem
from apps.core.capabilities import ACCESS_ADMIN, has_capability
from apps.core.hooks import session_revocation, validate_role_names
from apps.core.registry import ResourceError


def _clean_username(form: forms.ModelForm[User]) -> str:
    username: str = form.cleaned_data.get("username") or ""
    problem = username_problem(username)
    if problem:
        raise forms.ValidationError(problem)
    return username


class RolegateUserCreationForm(AdminUserCreationForm):
    """Django's add-user form with Rolegate's username rule (the same as `create -f`)."""

    def clean_username(self) -> str:
        return _clean_username(self)


class RolegateUserChangeForm(UserChangeForm[User]):
    """Validates role names against existing roles and traits as name → list of strings."""

    def clean_username(self) -> str:
        return _clean_username(self)

    def clean_roles(self) -> list[str]:
        roles = self.cleaned_data.get("roles") or []
        if not isinstance(roles, list) or not all(isinstance(name, str) for name in roles):
            raise forms.ValidationError('Enter a JSON list of role names, e.g. ["dev-read-only"].')
        try:
            validate_role_names(roles)
        except ResourceError as error:
            raise forms.ValidationError(error.reason) from None
        return sorted(set(roles))

    def clean_traits(self) -> dict[str, list[str]]:
        traits = self.cleaned_data.get("traits") or {}
        if not isinstance(traits, dict):
            raise forms.ValidationError('Enter a JSON object, e.g. {"aws_role_arns": ["arn:…"]}.')
        cleaned: dict[str, list[str]] = {}
        for name, values in traits.items():
            if isinstance(values, str):
                values = [values]
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise forms.ValidationError(f"Trait {name!r} must be a list of strings.")
            cleaned[str(name)] = values
        return cleaned


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    """Django's user admin plus Rolegate roles and traits."""

    form = RolegateUserChangeForm
    add_form = RolegateUserCreationForm
    list_display = ("username", "email", "is_staff", "is_active", "auth_source", "last_login")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (
            "Rolegate access",
            {"fields": ("roles", "traits", "effective_access", "external_traits", "auth_source")},
        ),
    )
    readonly_fields = ("external_traits", "auth_source", "effective_access")
    actions = ("revoke_aws_sessions",)

    @admin.action(description="Revoke AWS sessions (every role they can reach)")
    def revoke_aws_sessions(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        """The kill switch for people: end their live sessions on revocation-enabled accounts."""
        total = 0
        for user in queryset:
            total += session_revocation().revoke_user(actor=request.user, user=user)
        messages.success(
            request,
            f"Revocation of {total} role(s) recorded; the policy is being written to IAM "
            "(see each integration's page for the outcome).",
        )

    @admin.display(description="Effective access")
    def effective_access(self, obj: User) -> str:
        if obj.pk is None:
            return "-"
        url = reverse("access:explain") + "?" + urlencode({"user": obj.get_username()})
        return format_html('<a href="{}">Why can / can\'t {} …?</a>', url, obj.get_username())

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> Any:
        """Least privilege: staff never raise their own or anyone's privileges by editing.

        Only superusers change superuser status, groups and permissions; only access admins
        change roles and traits; and nobody but a superuser changes their own account's access.
        """
        fields = list(super().get_readonly_fields(request, obj))
        actor = request.user
        if actor.is_superuser:
            return fields
        fields += ["is_superuser", "groups", "user_permissions"]
        if not has_capability(actor, ACCESS_ADMIN) or (obj is not None and obj.pk == actor.pk):
            fields += ["roles", "traits", "is_staff", "is_active"]
        return fields

    def save_model(self, request: HttpRequest, obj: User, form: object, change: bool) -> None:
        services.user_save_from_admin(actor=request.user, user=obj, created=not change)


class AdminSignInForm(AdminAuthenticationForm):
    """The admin's sign-in form; a right password for a non-staff account is a refusal too."""

    def confirm_login_allowed(self, user: User) -> None:
        try:
            super().confirm_login_allowed(user)
        except forms.ValidationError:
            signin.sign_in_refused(
                request=self.request,
                username=user.get_username(),
                reason="not a staff account",
                method="admin",
            )
            raise


# The admin's login goes through PasswordBackend (throttle) and the sign-in receivers (audit).
admin.site.login_form = AdminSignInForm
