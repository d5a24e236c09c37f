"""Access requests: the just-in-time request, review and grant sub-app of `access`."""
