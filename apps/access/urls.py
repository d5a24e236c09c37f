"""Role editor, access explainer and the Users page, mounted under /manage/."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from apps.access import user_views, views

app_name = "access"
urlpatterns: list[URLPattern | URLResolver] = [
    path("roles/", views.role_list, name="role_list"),
    path("roles/-/new/", views.role_create, name="role_create"),
    path("roles/-/validate/", views.role_validate, name="role_validate"),
    path("roles/<str:name>/", views.role_edit, name="role_edit"),
    path("roles/<str:name>/delete/", views.role_delete, name="role_delete"),
    path("explain/", views.explain_access, name="explain"),
    path("users/", user_views.user_list, name="user_list"),
    path("users/<str:username>/", user_views.user_detail, name="user_detail"),
    path("users/<str:username>/roles/", user_views.user_roles, name="user_roles"),
    path("users/<str:username>/traits/", user_views.user_traits, name="user_traits"),
]
