"""What the unit tests expect of a call that must fail with an error code (エラー分類コード)."""

from __future__ import annotations

from collections.abc import Awaitable

import pytest

from error_codes import IpnsimError


async def expect(call: Awaitable[object], code: str) -> IpnsimError:
    """Await ``call``, which must raise the catalogued error ``code``; returns the error."""
    with pytest.raises(IpnsimError) as caught:
        await call
    assert caught.value.code == code, caught.value
    return caught.value
