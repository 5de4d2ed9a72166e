"""Which error codes a process puts on the wire: for the check that every code is reachable.

When the environment variable named by :data:`RECORD_ENV` gives a file, every error body a
service renders (:meth:`error_codes.IpnsimError.body`) appends its code to that file, one line
each. Unset, the default, nothing is recorded. The test suite sets it for its whole session, in
its own process and in every service process the launcher starts.
"""

from __future__ import annotations

import os
from pathlib import Path

RECORD_ENV = "IPNSIM_RECORD_ERROR_CODES"
"""Environment variable naming the file that collects the codes rendered on the wire."""


def record(code: str) -> None:
    """Append ``code`` to the record file, if one is set."""
    path = os.environ.get(RECORD_ENV)
    if path:
        # One short line in append mode: lines from concurrent processes do not interleave.
        with open(path, "a", encoding="ascii") as file:
            file.write(code + "\n")


def recorded(path: Path) -> set[str]:
    """Every code recorded in ``path`` (empty if the file does not exist)."""
    try:
        return set(path.read_text(encoding="ascii").split())
    except FileNotFoundError:
        return set()
