"""The duplicate-dependant finder (扶養重複照会), the provider's side. **Ours**: the real
network was still designing the function.

A municipality's tax business system registers, beside each taxpayer's local-tax information,
one replica of 扶養親族申告情報 (``TM00000000000062``) per dependant claimed in the fiscal
year's assessment; it names the dependant by this municipality's own 団体内統合宛名番号 (a
person assessed elsewhere is registered here as a 住登外者 and has a 符号 of this
municipality), never by My Number. No procedure may obtain those replicas.

Another municipality asks, through the hub, 扶養親族重複照会回答 (``TM00000000000063``) about
one person and fiscal year with the procedure ``JT01610000000003``; this server answers only
whether some taxpayer here claims the person (``I002``: ``1`` or ``0``), with no replica
metadata, so neither the taxpayer nor the replica is revealed. The exchange is recorded like
every provision.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy import bindparam, select

from error_codes import IpnsimError
from intermediate_server.db import Replica
from intermediate_server.schemas import (
    ClaimingMunicipality,
    DependantClaims,
    UnansweredMunicipality,
)
from ipnsim.storage import LoopReads
from network.protocol.models import (
    ConditionKind,
    FanOutResult,
    ProvisionAnswer,
    ProvisionRequest,
    ReplicaItem,
)

DEPENDANT_CLAIM_INFO = "TM00000000000062"
"""扶養親族申告情報: one claimed dependant of a taxpayer in one fiscal year."""
DUPLICATE_DEPENDANT_INFO = "TM00000000000063"
"""扶養親族重複照会回答: whether the person is claimed here (the finder's answer)."""
FINDER_AFFAIR = "JM01000000161000"
"""地方税."""
FINDER_PROCEDURE = "JT01610000000003"
"""個人住民税の賦課における扶養親族の重複の確認."""

CLAIM_YEAR_ITEM = "I001"
CLAIM_DEPENDANT_ITEM = "I002"


def asked_year(request: ProvisionRequest) -> int | None:
    """The fiscal year a finder request asks about (None: it names none)."""
    condition = request.condition
    if condition.kind is ConditionKind.FISCAL_YEAR:
        return condition.fiscal_year
    return None


_CLAIMS = select(Replica.fiscal_year, Replica.items).where(
    Replica.info_type_code == DEPENDANT_CLAIM_INFO,
    Replica.fiscal_year.in_(bindparam("years", expanding=True)),
    Replica.deleted_at.is_(None),
    Replica.publication_start <= bindparam("today"),
)
"""The live, published 扶養親族申告情報 replicas of some fiscal years (built once: a loop read
compiles each statement once)."""


async def claimed(
    reads: LoopReads, asked: Iterable[tuple[str, int]], today: dt.date
) -> set[tuple[str, int]]:
    """Which of the (atena number, fiscal year) pairs some published, live 扶養親族申告情報
    replica here claims as a dependant."""
    wanted = set(asked)
    if not wanted:
        return set()
    years = sorted({year for _atena, year in wanted})
    rows = await reads.all(_CLAIMS, {"years": years, "today": today})
    found: set[tuple[str, int]] = set()
    for year, items in rows:
        for item in items:
            if item.get("code") == CLAIM_DEPENDANT_ITEM and (item.get("value"), year) in wanted:
                found.add((item["value"], year))
    return found


def finder_answer(
    inquiry_id: uuid.UUID,
    provided_at: dt.datetime,
    atena_number: str | None,
    year: int | None,
    claims: set[tuple[str, int]],
) -> ProvisionAnswer:
    """Claimed or not, and nothing else; RPL001 when the request names no fiscal year."""
    if year is None:
        return ProvisionAnswer(
            inquiry_id=inquiry_id, provided_at=provided_at, error=IpnsimError("RPL001").body()
        )
    flag = "1" if (atena_number or "", year) in claims else "0"
    return ProvisionAnswer(
        inquiry_id=inquiry_id,
        provided_at=provided_at,
        items=[
            ReplicaItem(code=CLAIM_YEAR_ITEM, value=str(year)),
            ReplicaItem(code=CLAIM_DEPENDANT_ITEM, value=flag),
        ],
    )


def summarise_claims(answer: FanOutResult, fiscal_year: int) -> DependantClaims:
    """The municipalities of a finder fan-out, by what each answered."""
    claimed_by: list[ClaimingMunicipality] = []
    not_claimed_by: list[ClaimingMunicipality] = []
    unanswered: list[UnansweredMunicipality] = []
    for result in sorted(answer.results, key=lambda result: result.provider_code):
        who = {
            "code": result.provider_code,
            "name_ja": result.provider_name,
            "inquiry_id": result.inquiry_id,
        }
        flag = next((i.value for i in result.items if i.code == CLAIM_DEPENDANT_ITEM), None)
        if result.error is not None or flag is None:
            error = result.error
            unanswered.append(
                UnansweredMunicipality(
                    **who,
                    error_code=error.code if error else "AVL005",
                    message_en=error.message_en if error else "no answer",
                )
            )
        elif flag == "1":
            claimed_by.append(ClaimingMunicipality(**who))
        else:
            not_claimed_by.append(ClaimingMunicipality(**who))
    return DependantClaims(
        fan_out_id=answer.fan_out_id,
        fiscal_year=fiscal_year,
        claimed_by=claimed_by,
        not_claimed_by=not_claimed_by,
        unanswered=unanswered,
    )
