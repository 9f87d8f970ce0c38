"""Which Host and Origin headers a request may carry: the defence against DNS rebinding.

Bound to loopback the UI has no login, so a web page whose name an attacker re-points at
127.0.0.1 could otherwise read every prompt through the visitor's browser: its requests carry
the attacker's name in Host (and, being same-origin to that page, pass an Origin check). Only
loopback names, the public URL's host and the configured allowed hosts are served; off loopback
the check applies when the operator lists allowed hosts. A state-changing request whose Origin
(or Referer) names another host is refused on every binding.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})  # health checks often name a pod's address


@dataclass(frozen=True)
class HostPolicy:
    """Loopback names are always served, plus `names`; `names` None serves any Host."""

    names: frozenset[str] | None

    def allows_host(self, host_header: str) -> bool:
        if self.names is None:
            return True
        name = hostname(host_header)
        return name in self.names or is_loopback_name(name)


def is_foreign_origin(origin: str | None, host_header: str) -> bool:
    """True when a browser says the request comes from a page of another origin (`null` included)."""
    if not origin:
        return False
    try:
        return urlsplit(origin).netloc.lower() != host_header.lower()
    except ValueError:  # not a URL at all
        return True


def split_names(text: str) -> list[str]:
    return [name.strip().lower() for name in text.split(",") if name.strip()]


def hostname(host_header: str) -> str:
    """`Host: [::1]:8050` → `::1`; `Example.com.:443` → `example.com`; a malformed one → ''."""
    try:
        return (urlsplit("//" + host_header).hostname or "").rstrip(".")
    except ValueError:
        return ""


def is_loopback_name(name: str) -> bool:
    """127.0.0.0/8, ::1, localhost and *.localhost (RFC 6761: never resolved by DNS)."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
