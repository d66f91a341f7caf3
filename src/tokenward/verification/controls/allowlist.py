"""IP allowlists: is the client's address within one of the token's ranges?"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Allowlist:
    """A token's allowlist, parsed once (``compiled`` keeps it per distinct list).

    IPv4 and IPv6 ranges are kept apart, and an IPv4-mapped IPv6 client (``::ffff:10.0.0.1``,
    what a dual-stack socket reports for an IPv4 peer) is compared as the IPv4 address it
    carries: the same client must not pass or fail by the socket family it came through.
    """

    __slots__ = ("_v4", "_v6")

    def __init__(self, entries: Sequence[str]) -> None:
        networks = [ipaddress.ip_network(entry, strict=False) for entry in entries]
        self._v4 = tuple(n for n in networks if isinstance(n, ipaddress.IPv4Network))
        self._v6 = tuple(n for n in networks if isinstance(n, ipaddress.IPv6Network))

    def allows(self, client_ip: str | None) -> bool:
        """False for a missing or unparsable address: an allowlist admits only what it names."""
        if not client_ip:
            return False
        try:
            # A zone (``fe80::1%eth0``) names the host's interface, not another address.
            address = ipaddress.ip_address(client_ip.strip().partition("%")[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address):
            mapped = address.ipv4_mapped
            if mapped is None:
                return any(address in network for network in self._v6)
            address = mapped
        return any(address in network for network in self._v4)


@lru_cache(maxsize=4096)
def compiled(entries: tuple[str, ...]) -> Allowlist:
    """Tokens share their parsed allowlist while it stays the same tuple of strings."""
    return Allowlist(entries)
