"""Where a webhook may be sent: a guard against server-side request forgery.

The host is resolved here and the request goes to an address that was checked, so a name
that resolves to a public address for the check and a private one for the connection (DNS
rebinding) reaches nothing private.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from tokenward.domain.lifecycle import is_public_address


class RefusedAddress(Exception):
    """The URL leads to an address that webhooks may not reach, or to none."""


@dataclass(frozen=True)
class Target:
    """A URL with its host replaced by a checked address, and what to send as ``Host`` and
    as the TLS server name."""

    url: str
    host_header: str
    server_name: str | None


async def resolve(url: str, *, allow_private: bool) -> Target:
    parts = urlsplit(url)
    host = parts.hostname
    if host is None:
        raise RefusedAddress("the URL has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RefusedAddress(f"the host does not resolve ({exc})") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise RefusedAddress("the host does not resolve")
    if not allow_private:
        refused = [a for a in addresses if not is_public_address(a)]
        if refused:
            # Every address, not just the first: a name with one private address among
            # public ones could still be steered to it.
            raise RefusedAddress(
                "the host resolves to an address that webhooks may not reach "
                "(loopback, private, link-local or reserved)"
            )
    address = addresses[0]
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{port}"
    target = parts._replace(netloc=netloc).geturl()
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Target(
        url=target,
        host_header=host_header,
        server_name=host if parts.scheme == "https" else None,
    )
