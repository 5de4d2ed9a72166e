"""Admission of inquiries at the hub: a bound on how many are in flight at once (AVL007).

The hub runs in one event loop, so a plain counter is exact: nothing awaits between the check
and the increment. A full hub refuses at once; it never queues an inquiry.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from error_codes import IpnsimError

RETRY_AFTER_SECONDS = 1
"""What the hub's Retry-After header tells a refused requester to wait, in seconds."""


class HubOverloaded(IpnsimError):
    """AVL007: the hub holds its limit of inquiries in flight; answered with Retry-After."""

    def __init__(self, limit: int, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__("AVL007", limit=str(limit))
        self.retry_after = retry_after


class InFlightLimit:
    """Counts the inquiries being handled and refuses one beyond ``limit`` (混雑時の受付制限)."""

    def __init__(self, limit: int, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        if limit < 1:
            raise ValueError("the limit of inquiries in flight must be at least 1")
        self.limit = limit
        self.retry_after = retry_after
        self.in_flight = 0

    @contextlib.contextmanager
    def admit(self) -> Iterator[None]:
        """Hold one place while the block runs; HubOverloaded at once when all are taken."""
        if self.in_flight >= self.limit:
            raise HubOverloaded(self.limit, self.retry_after)
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
