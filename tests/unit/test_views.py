"""How the command line shows a network's services."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from ipnsim.launcher import NetworkFile, ServiceInfo
from ipnsim.views import services_table


def network_of(ports: range) -> NetworkFile:
    services = [
        ServiceInfo(
            name="hub", role="hub", url=f"http://127.0.0.1:{ports[0]}", port=ports[0], log_file="h"
        ),
        *(
            ServiceInfo(
                name=f"agency{port}",
                role="agency",
                url=f"http://127.0.0.1:{port}",
                port=port,
                log_file="a",
                agency_code="2006201400000000",
                name_ja="山形市",
            )
            for port in ports[1:]
        ),
    ]
    return NetworkFile(host="127.0.0.1", hub_secret="s", admin_token="t", seed=0, services=services)


@pytest.mark.parametrize("width", [72, 80, 120])
def test_codes_and_urls_are_shown_whole_on_a_narrow_terminal(width: int) -> None:
    network = network_of(range(28700, 28704))
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(
        services_table(network, healthy={"hub": True})
    )
    shown = out.getvalue()
    for service in network.services:
        assert service.url in shown, shown
        assert service.agency_code is None or service.agency_code in shown, shown
