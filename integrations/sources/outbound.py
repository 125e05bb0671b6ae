"""Where calls to a source's API may go (DESIGN §9), and the client that holds them to it.

Over https to the source's own hosts (its `outbound_hosts`: `api.hubapi.com`, `*.pipedrive.com`),
or over http or https to a host that OUTBOUND_ALLOWED_HOSTS names (`127.0.0.1`,
`stand-in:8080`). Whatever the name, the client connects only to an address it has checked: it
resolves the name once, refuses it when any address is loopback, private, link-local (the cloud
metadata service) or otherwise not public, and connects to a checked address, the name kept for
TLS (SNI and the certificate) and the Host header. A host named in OUTBOUND_ALLOWED_HOSTS is
trusted with whatever it resolves to, and so is an address named there. Redirects are not
followed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings

from . import SourceUnavailable

DEFAULT_PORTS = {"http": 80, "https": 443}


class OutboundRefused(SourceUnavailable):
    """A call these rules do not allow. Trying again does not help: change the configuration."""


def named_hosts() -> list[tuple[str, int | None]]:
    """OUTBOUND_ALLOWED_HOSTS as (host, port); port None: any port. An entry whose port is not
    a number names nothing."""
    named: list[tuple[str, int | None]] = []
    for entry in settings.OUTBOUND_ALLOWED_HOSTS:
        text = entry.strip().lower()
        if text.startswith("["):  # [::1] or [::1]:8080
            host, _, port = text[1:].partition("]")
            port = port.removeprefix(":")
        elif text.count(":") == 1:  # host:port (more colons: an IPv6 address alone)
            host, _, port = text.partition(":")
        else:
            host, port = text, ""
        if host and (not port or (port.isascii() and port.isdecimal())):
            named.append((host, int(port) if port else None))
    return named


def is_named(host: str, port: int) -> bool:
    host = host.lower().strip("[]")
    return any(h == host and p in (None, port) for h, p in named_hosts())


def _is_source_host(host: str, patterns: Iterable[str]) -> bool:
    host = host.lower()
    for pattern in patterns:
        if pattern.startswith("*."):
            suffix = pattern[1:]  # ".pipedrive.com": one or more labels before it
            if host.endswith(suffix) and len(host) > len(suffix):
                return True
        elif host == pattern:
            return True
    return False


def url_problem(url: str, hosts: Iterable[str]) -> str:
    """Why calls may not go to this URL, or "" when they may. `hosts` are the source's own."""
    hosts = tuple(hosts)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"{url!r} is not a URL with a valid host and port"
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme in DEFAULT_PORTS and host and is_named(host, port or DEFAULT_PORTS[scheme]):
        return ""
    if scheme == "https" and _is_source_host(host, hosts):
        return ""
    own = ", ".join(hosts) or "no host of its own"
    return (
        f"{url!r} is refused: calls go over https to {own}, or to a host named in "
        "OUTBOUND_ALLOWED_HOSTS"
    )


def address_problem(address: str) -> str:
    """Why this address may not be connected to (unless its host is named), or ""."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id is not part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    kinds = [
        ("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
        ("unspecified", ip.is_unspecified), ("multicast", ip.is_multicast),
        ("private", ip.is_private), ("reserved", ip.is_reserved),
    ]  # fmt: skip
    kind = next((name for name, holds in kinds if holds), "" if ip.is_global else "non-public")
    return f"{address} is a {kind} address" if kind else ""


class _CheckedBackend(httpcore.NetworkBackend):
    """Connects only to an address it has checked: the name is resolved here, once."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if is_named(host, port):
            return self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        for address in addresses:  # every one: a rebinding name mixes public and inside ones
            problem = "" if is_named(address, port) else address_problem(address)
            if problem:
                raise OutboundRefused(
                    f"refused to connect to {host}: {problem} (name the host in "
                    "OUTBOUND_ALLOWED_HOSTS to allow it)"
                )
        error: Exception = httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            try:
                return self._backend.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        raise OutboundRefused("calls to a source never go through a local socket")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _CheckedTransport(httpx.HTTPTransport):
    """Every request checked against the rules, on a pool that connects through the backend
    above (httpx takes no network backend of its own, hence the pool set here)."""

    def __init__(self, hosts: tuple[str, ...]) -> None:
        super().__init__(trust_env=False)
        self._hosts = hosts
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_CheckedBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        problem = url_problem(str(request.url.copy_with(query=None)), self._hosts)
        if problem:
            raise OutboundRefused(problem)
        return super().handle_request(request)


def source_client(
    integration: Any,
    *,
    base_url: str,
    headers: Mapping[str, str],
    timeout: float,
    auth: tuple[str, str] | None = None,
) -> httpx.Client:
    """A client for the integration's source API at `base_url`, held to the rules above.
    Raises OutboundRefused when the base URL itself is refused."""
    source = integration.source
    hosts = tuple(source.outbound_hosts) if source is not None else ()
    problem = url_problem(base_url, hosts)
    if problem:
        raise OutboundRefused(problem)
    return httpx.Client(
        base_url=base_url,
        headers=dict(headers),
        auth=auth,
        timeout=timeout,
        transport=_CheckedTransport(hosts),
        follow_redirects=False,  # a redirect could lead anywhere: it is an answer, not a hop
        trust_env=False,  # no proxy from the environment: the checked address is the one used
    )
