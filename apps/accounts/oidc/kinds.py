"""The ``oidc_connector`` resource kind for ``manage.py create/get/rm``.

```yaml
kind: oidc_connector
version: v1
metadata: {name: oidc}          # ROLEGATE_OIDC_CONNECTOR names the one in use (default "oidc")
spec:
  display: Okta                 # optional
  claims_to_roles:
  - {claim: groups, value: aws-admins, roles: [aws-admin]}
  - {claim: groups, value: "eng-*", roles: [example-read-only-access]}
```
The provider itself (issuer, client id and secret, scopes) is configured by environment
variables so that secrets never sit in the database or in YAML files.
"""

from __future__ import annotations

from apps.accounts.models import OidcConnector
from apps.accounts.oidc import services as oidc_services
from apps.accounts.oidc.mapping import parse_connector_spec
from apps.core.identity import Actor
from apps.core.registry import Document, ResourceKind, ResourceNotFound, register


def apply(document: Document, *, actor: Actor, force: bool) -> str:
    """Create or replace a connector from its YAML document."""
    name = str(document["metadata"]["name"])
    oidc_services.oidc_connector_apply(
        actor=actor, name=name, spec=document.get("spec"), force=force
    )
    return name


def serialize(connector: OidcConnector) -> Document:
    """A connector as a YAML-ready document."""
    return {
        "kind": "oidc_connector",
        "version": "v1",
        "metadata": {"name": connector.name},
        "spec": parse_connector_spec(connector.spec).to_dict(),
    }


def get(name: str) -> Document:
    """Serialize one connector."""
    connector = OidcConnector.objects.filter(name=name).first()
    if connector is None:
        raise ResourceNotFound(f"oidc_connector {name!r} not found")
    return serialize(connector)


def list_all() -> list[Document]:
    """Serialize every connector."""
    return [serialize(connector) for connector in OidcConnector.objects.order_by("name")]


def delete(name: str, *, actor: Actor) -> None:
    """Delete a connector."""
    oidc_services.oidc_connector_delete(actor=actor, name=name)


register(
    ResourceKind(
        kind="oidc_connector",
        versions=("v1",),
        apply=apply,
        get=get,
        list=list_all,
        delete=delete,
        aliases=("oidc",),
    )
)
