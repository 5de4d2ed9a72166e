"""Port blocks for test networks lie below the ephemeral range, where no client socket lands."""

from __future__ import annotations

import socket

from ipnsim.launcher import LOWEST_TEST_PORT, ephemeral_port_start, find_free_port_block


def test_port_blocks_lie_below_the_ephemeral_range_and_are_free() -> None:
    start = ephemeral_port_start()
    for _ in range(20):
        base = find_free_port_block(8)
        assert base >= LOWEST_TEST_PORT and base + 8 <= start
        for port in range(base, base + 8):
            with socket.socket() as probe:
                # As a server binds (uvicorn does): a connection of another test network
                # closing on the port (TIME_WAIT) does not keep a server from listening there.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(("127.0.0.1", port))
                probe.listen()
