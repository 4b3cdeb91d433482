"""IP allow-lists of gig platforms (security.md AP2).

A platform's `allowed_networks` is a list of CIDR strings (IPv4 and IPv6). Its keys
are accepted only from a client address inside one of them; an empty list accepts
no address (deny by default: a new platform is closed until staff name its
networks; "any address" is the explicit pair `0.0.0.0/0` + `::/0`). The client
address is `portal.middleware.client_ip` (X-Forwarded-For counted only for
PROXY_COUNT trusted hops), never a header taken at face value.

Input (admin form, `issue_platform_key --allow`) is parsed strictly: a network
with host bits set (`10.1.2.3/24`) is refused rather than widened, because the
author may have meant `10.1.2.3/32`; a bare address means that one host.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from django.core.exceptions import ValidationError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_NETWORKS = 100
ANY_ADDRESS = ("0.0.0.0/0", "::/0")
LOOPBACK = ("127.0.0.0/8", "::1/128")

MSG_MALFORMED = (
    "“%(value)s”不是有效的IP地址或网段(CIDR),例如 203.0.113.0/24、2001:db8::/32。"
)
MSG_HOST_BITS = (
    "“%(value)s”的主机位不为零:网段请写作 %(network)s,单个地址请写作 %(host)s。"
)
MSG_TOO_MANY = "白名单最多 %(max)s 项。"

_SPLIT_RE = re.compile(r"[\s,;,;]+")


def split_networks(text: str) -> list[str]:
    """The entries of a text box: one per line, commas or spaces also separate."""
    return [part for part in _SPLIT_RE.split(text or "") if part]


def _parse_one(value: str) -> Network:
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValidationError(
                MSG_MALFORMED, code="invalid_network", params={"value": value}
            ) from exc
        host = f"{value.split('/')[0]}/{loose.max_prefixlen}"
        raise ValidationError(
            MSG_HOST_BITS,
            code="network_host_bits",
            params={"value": value, "network": str(loose), "host": host},
        ) from exc


def normalize_networks(values: Iterable[str]) -> list[str]:
    """Validate every entry and return the canonical CIDR strings (`10.0.0.0/8`,
    `2001:db8::/32`, a bare address as `/32` or `/128`), duplicates dropped, order
    kept. Raises one ValidationError listing every bad entry."""
    if isinstance(values, str):
        raise TypeError("a list of networks, not one string")
    errors: list[ValidationError] = []
    result: list[str] = []
    for raw in values:
        value = str(raw).strip()
        if not value:
            continue
        try:
            network = str(_parse_one(value))
        except ValidationError as exc:
            errors.append(exc)
            continue
        if network not in result:
            result.append(network)
    if len(result) > MAX_NETWORKS:
        errors.append(
            ValidationError(
                MSG_TOO_MANY, code="too_many_networks", params={"max": MAX_NETWORKS}
            )
        )
    if errors:
        raise ValidationError(errors)
    return result


def validate_network_list(value: object) -> None:
    """Model-field validator: a JSON list of canonical CIDR strings."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("须为IP网段(CIDR)字符串的列表。", code="invalid_networks")
    normalize_networks(value)


@lru_cache(maxsize=256)
def _compiled(networks: tuple[str, ...]) -> tuple[Network, ...]:
    # Stored values were validated on the way in; anything unparsable that got
    # into the column another way is skipped (it can only make the list smaller).
    compiled = []
    for value in networks:
        try:
            compiled.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            continue
    return tuple(compiled)


def parse_client_address(ip: str | None) -> Address | None:
    """The client address as an object, None if absent or unparsable. An
    IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, from a dual-stack socket) is
    the IPv4 address; an IPv6 zone (`fe80::1%eth0`) is dropped."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def address_allowed(networks: Sequence[str], ip: str | None) -> bool:
    """True when `ip` lies in one of `networks`; False for an empty list, a
    missing or an unparsable address."""
    address = parse_client_address(ip)
    if address is None or not networks:
        return False
    return any(address in network for network in _compiled(tuple(networks)))
