"""How awsra reaches AWS, configured the way the AWS SDKs are.

- `HTTPS_PROXY` / `HTTP_PROXY` (or lower case) send requests through a proxy: https targets in a
  CONNECT tunnel, so TLS stays end to end; `NO_PROXY` lists hosts (and domain suffixes, `*`)
  that are reached directly. The same rules as Python's `urllib` and therefore botocore.
- `AWS_CA_BUNDLE` names the PEM file of certificate authorities to trust (a TLS-inspecting
  proxy's CA, a private endpoint's); unset, the system's default store.
- `AWS_USE_FIPS_ENDPOINT=true` selects FIPS endpoints (see `awsra.client.resolve_endpoint`).

One connection pool is kept per (proxy, CA bundle), so changing nothing costs nothing.
"""

from __future__ import annotations

import os
import ssl
import threading
import urllib.request
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

import urllib3

__all__ = ["CA_BUNDLE_ENV", "FIPS_ENV", "ca_bundle", "pool_for", "proxy_for", "use_fips"]

CA_BUNDLE_ENV = "AWS_CA_BUNDLE"
FIPS_ENV = "AWS_USE_FIPS_ENDPOINT"

_pools: dict[tuple[str, str], urllib3.PoolManager] = {}
_lock = threading.Lock()


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def proxy_for(url: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy URL to use for `url`, or None to connect directly."""
    env = _environ(environ)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    # urllib's reading: lower case wins over upper case, empty means unset.
    proxies: dict[str, str] = {}
    for name, value in env.items():
        lowered = name.lower()
        if lowered.endswith("_proxy") and value:
            key = lowered[: -len("_proxy")]
            if name == lowered or key not in proxies:
                proxies[key] = value
    proxy = proxies.get(scheme)
    if not proxy:
        return None
    no_proxy = proxies.get("no", "")
    if no_proxy and _bypass(parts.hostname or "", parts.port, no_proxy):
        return None
    if "://" not in proxy:
        proxy = f"http://{proxy}"
    return proxy


def _bypass(host: str, port: int | None, no_proxy: str) -> bool:
    """NO_PROXY matching as urllib does it (`*`, exact hosts, domain suffixes, host:port)."""
    target = f"{host}:{port}" if port else host
    # Undocumented in typeshed but public in urllib (botocore's proxy handling rests on it).
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    return bool(bypass(target, {"no": no_proxy}))


def _proxy_manager(proxy: str, options: dict[str, object]) -> urllib3.ProxyManager:
    """A ProxyManager; credentials in the proxy URL become a Proxy-Authorization header."""
    parts = urlsplit(proxy)
    if parts.username is None:
        return urllib3.ProxyManager(proxy, **options)  # type: ignore[arg-type]
    userinfo = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    bare = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()
    headers = urllib3.make_headers(proxy_basic_auth=userinfo)
    return urllib3.ProxyManager(bare, proxy_headers=headers, **options)  # type: ignore[arg-type]


def ca_bundle(environ: Mapping[str, str] | None = None) -> str:
    """The CA bundle path from AWS_CA_BUNDLE ('' for the system store)."""
    path = _environ(environ).get(CA_BUNDLE_ENV, "").strip()
    if path and not os.path.isfile(path):
        raise ValueError(f"{CA_BUNDLE_ENV} names {path!r}, which is not a readable file")
    return path


def use_fips(environ: Mapping[str, str] | None = None) -> bool:
    """True when AWS_USE_FIPS_ENDPOINT asks for FIPS endpoints (true/false, as the SDKs)."""
    value = _environ(environ).get(FIPS_ENV, "").strip().lower()
    if value in ("", "false"):
        return False
    if value == "true":
        return True
    raise ValueError(f"{FIPS_ENV} must be true or false, got {value!r}")


def pool_for(url: str, environ: Mapping[str, str] | None = None) -> urllib3.PoolManager:
    """The shared pool for `url`: direct or through the proxy, trusting the CA bundle."""
    proxy = proxy_for(url, environ) or ""
    bundle = ca_bundle(environ)
    key = (proxy, bundle)
    pool = _pools.get(key)
    if pool is not None:
        return pool
    with _lock:
        pool = _pools.get(key)
        if pool is None:
            options: dict[str, object] = {
                "num_pools": 16,
                "maxsize": 8,
                "retries": False,
                "ssl_minimum_version": ssl.TLSVersion.TLSv1_2,
                "cert_reqs": ssl.CERT_REQUIRED,
            }
            if bundle:
                options["ca_certs"] = bundle
            pool = (
                _proxy_manager(proxy, options) if proxy else urllib3.PoolManager(**options)  # type: ignore[arg-type]
            )
            _pools[key] = pool
    return pool
