"""A hosts file for this Python process only: Smartcar's host names resolve to the mock.

Python imports `sitecustomize` at start-up from the first folder of `sys.path` that has one, so
putting this folder on PYTHONPATH maps the names for one process without touching /etc/hosts and
without a line of the app changing. It patches `socket.getaddrinfo`, which every client (requests,
urllib3, http.client, httpx) asks for addresses; the TLS layer still sees the real host name, so the
certificate is checked against it.

  MOCK_HOSTS_FILE  lines "<address> <name>…", as `mock-server hosts` prints them (# comments ignored)
  MOCK_HTTPS_PORT  the port 443 of those names goes to (the mock's --tls-addr port; default 443),
                   since a hosts file maps names, not ports
"""

import os
import socket


def _read_hosts(path):
    table = {}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            words = line.split("#", 1)[0].split()
            for name in words[1:]:
                table[name.lower()] = words[0]
    return table


_HOSTS = _read_hosts(os.environ["MOCK_HOSTS_FILE"]) if os.environ.get("MOCK_HOSTS_FILE") else {}
_HTTPS_PORT = int(os.environ.get("MOCK_HTTPS_PORT", "443"))
_getaddrinfo = socket.getaddrinfo


def _mapped_getaddrinfo(host, port, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    address = _HOSTS.get((name or "").lower().rstrip("."))
    if address is None:
        return _getaddrinfo(host, port, *args, **kwargs)
    if port in (443, "443", "https"):
        port = _HTTPS_PORT
    return _getaddrinfo(address, port, *args, **kwargs)


if _HOSTS:
    socket.getaddrinfo = _mapped_getaddrinfo
