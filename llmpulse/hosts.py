"""The Host policies each port applies, from the settings (the checks themselves: schemas.hosts,
which the collector and the dashboard both import; this module is the shell's wiring)."""

from __future__ import annotations

from urllib.parse import urlsplit

from llmpulse.config import Settings, is_loopback
from schemas.hosts import HostPolicy, hostname, split_names


def host_policy(settings: Settings) -> HostPolicy:
    """The UI's: on loopback, or off it once `allowed_hosts` is set, those and the public URL's host."""
    if not is_loopback(settings.host) and not settings.allowed_hosts:
        return HostPolicy(None)
    names = {hostname(name) for name in split_names(settings.allowed_hosts)}  # a port given is ignored
    if settings.public_url:
        names.add(hostname(urlsplit(settings.public_url).netloc))
    return HostPolicy(frozenset(names - {""}))


def otlp_host_policy(settings: Settings) -> HostPolicy:
    """The OTLP port's: bound to loopback (no key needed) loopback names only; off it keys protect it."""
    return HostPolicy(frozenset()) if is_loopback(settings.host) else HostPolicy(None)
