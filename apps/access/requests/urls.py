"""Access request pages, mounted at /requests/."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from apps.access.requests import views

app_name = "requests"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.request_list, name="list"),
    path("new/", views.request_create, name="create"),
    path("review/", views.review_queue, name="review_queue"),
    path("history/", views.request_history, name="history"),
    path("<uuid:pk>/", views.request_detail, name="detail"),
    path("<uuid:pk>/review/", views.request_review, name="review"),
    path("<uuid:pk>/end/", views.request_end, name="end"),
    path("<uuid:pk>/cancel/", views.request_cancel, name="cancel"),
]
