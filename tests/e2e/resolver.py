"""Test-only mitmproxy addon: name resolution without DNS.

Host names ending in `.test` (and `localhost`) resolve to 127.0.0.1; IP literals pass through;
every other name fails exactly as the system resolver fails for an unknown name
(`socket.gaierror(EAI_NONAME)`), without sending a query anywhere. mitmproxy resolves upstream
names through `socket.getaddrinfo` (asyncio calls it in a worker thread), so the whole upstream
path, error handling included, is mitmproxy's own; only the lookup is local.
"""

import ipaddress
import socket

_real_getaddrinfo = getattr(socket, "_dejunk_real_getaddrinfo", socket.getaddrinfo)
socket._dejunk_real_getaddrinfo = _real_getaddrinfo


def _is_ip(host) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _test_getaddrinfo(host, port, *args, **kwargs):
    if host is None or (isinstance(host, str) and (host == "" or _is_ip(host.split("%")[0]))):
        return _real_getaddrinfo(host, port, *args, **kwargs)
    name = host.decode() if isinstance(host, bytes) else host
    name = name.rstrip(".").lower()
    if name == "localhost" or name.endswith(".test"):
        return _real_getaddrinfo("127.0.0.1", port, *args, **kwargs)
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


socket.getaddrinfo = _test_getaddrinfo
