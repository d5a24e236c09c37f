"""OpenID Connect sign-in: provider discovery, the backend, connector mapping and views."""
