"""The load balancer in front of several hubs: nginx, configured and run by ``ipnsim up``.

``ipnsim up --hubs N`` writes ``nginx/nginx.conf`` under the data directory: one upstream of the
N hub processes, the hub's address as the server, and every path nginx writes (its pid file, its
logs, its temporary files) under the data directory, so it runs as the current user with no
system directory touched. Requests are spread round-robin over keep-alive connections; an
inquiry (a POST) is never sent to a second hub after the first failed, since nginx retries only
idempotent requests, and then only when the first hub could not be connected to.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

NGINX_DIRECTORY = "nginx"
NGINX_CONFIG = "nginx.conf"
NGINX_SEARCH_PATH = ("/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin")
"""Where nginx is looked for beyond PATH (Debian installs it in /usr/sbin, which an ordinary
user's PATH often lacks)."""
TEMPORARY_DIRECTORIES = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


class LoadBalancerError(RuntimeError):
    """nginx is missing or its configuration cannot be written; the message says what to do."""


class Listener(Protocol):
    """Where the load balancer listens and logs (the hub's entry of ``network.json``)."""

    @property
    def url(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def log_file(self) -> str: ...


def find_nginx() -> str:
    """The nginx executable; LoadBalancerError if it is not installed."""
    found = shutil.which("nginx") or shutil.which("nginx", path=os.pathsep.join(NGINX_SEARCH_PATH))
    if found is None:
        raise LoadBalancerError(
            "several hubs need nginx as their load balancer, and nginx is not installed: "
            "install it (Debian: apt-get install nginx) or run one hub"
        )
    return found


def config_path(data_dir: Path) -> Path:
    return (data_dir / NGINX_DIRECTORY / NGINX_CONFIG).resolve()


def _user_directive() -> str:
    """nginx's ``user`` line: only a master running as root switches its workers to another
    user, so as root it names root's own user and group (the data directory's owner)."""
    if os.geteuid() != 0:
        return ""
    user = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name
    return f"user {user} {group};\n"


def nginx_config(
    data_dir: Path, listener: Listener, upstreams: Sequence[tuple[str, int]], workers: int = 1
) -> str:
    """The text of nginx.conf: ``listener``'s address in front of ``upstreams``."""
    if not upstreams:
        raise LoadBalancerError("the load balancer needs at least one hub")
    home = (data_dir / NGINX_DIRECTORY).resolve()
    access_log = Path(listener.log_file).with_name("hub-access.log").resolve()
    host = urlsplit(listener.url).hostname
    servers = "".join(
        f"        server {address}:{port} max_fails=0;\n" for address, port in upstreams
    )
    temporary = "".join(
        f"    {name}_temp_path {home / 'temp' / name};\n" for name in TEMPORARY_DIRECTORIES
    )
    return f"""\
# Written by ipnsim up --hubs {len(upstreams)}: the hub's address in front of its {len(upstreams)}
# processes. Rewritten at every start; edits are lost.
{_user_directive()}worker_processes {workers};
daemon off;
pid {home / "nginx.pid"};
error_log {Path(listener.log_file).resolve()} warn;

events {{
    worker_connections 4096;
}}

http {{
    log_format upstream '$remote_addr [$time_iso8601] "$request" $status '
                        '$body_bytes_sent $request_time upstream=$upstream_addr';
    access_log {access_log} upstream;
{temporary}
    # max_fails=0: a hub that refused a connection (restarting) is tried again at the next
    # request, not left out for ten seconds; a request that cannot connect goes to another hub.
    upstream hubs {{
{servers}        keepalive 64;
    }}

    server {{
        listen {host}:{listener.port};
        # The hubs check every body's size themselves.
        client_max_body_size 0;

        location / {{
            proxy_pass http://hubs;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            # Server-sent events (/v1/events) and long batch requests pass as they come.
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
        }}
    }}
}}
"""


def write_nginx_config(
    data_dir: Path, listener: Listener, upstreams: Sequence[tuple[str, int]]
) -> Path:
    """Write nginx.conf and make its directories; LoadBalancerError if nginx is missing."""
    find_nginx()
    home = (data_dir / NGINX_DIRECTORY).resolve()
    for name in TEMPORARY_DIRECTORIES:
        (home / "temp" / name).mkdir(parents=True, exist_ok=True)
    path = config_path(data_dir)
    path.write_text(nginx_config(data_dir, listener, upstreams), encoding="utf-8")
    return path


def nginx_command(data_dir: Path) -> list[str]:
    """The command that runs nginx in the foreground on the written configuration."""
    home = (data_dir / NGINX_DIRECTORY).resolve()
    return [
        find_nginx(),
        "-p",
        f"{home}/",
        "-c",
        str(config_path(data_dir)),
        # Before it reads the configuration nginx opens this error log, not the system's.
        "-e",
        str(home / "startup-error.log"),
    ]
