"""The hub's part in a manual-response hold (自動応答不可).

A provider that holds an inquiry for its staff answers ``MAN001``; the hub records it pending
(05/05) like any other outcome. When staff answer, decline (``MAN002``) or the request expires
(``MAN003``), the provider sends the final answer (``POST /v1/manual-responses``):
:func:`complete_manual_response` appends the final outcome to the hub's copy of the record (a
:class:`~network.db.HubOutcome`, a leaf of the record log; the record itself is never changed) and
delivers the final result to the requester's intermediate server (``/hub/results``).

The hub keeps no item values: if the requester cannot be reached it answers ``MAN005`` and the
provider, which keeps the answer, sends it again until the hub acknowledges it. Completing the
same record again with the same outcome only delivers again, so retries are safe.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from error_codes import IpnsimError
from ipnsim.storage import utcnow
from network.db import HubOutcome
from network.protocol.models import (
    MANUAL_PENDING_CODE,
    InquiryResult,
    LogEventKind,
    ProvisionAnswer,
    outcome_statuses,
)
from network.protocol.record_log import Appender
from network.registry import AgencyEntry
from network.repository import RecordRepository
from network.service import HubService

logger = logging.getLogger("ipnsim.hub.manual")


async def complete_manual_response(
    hub: HubService, caller: AgencyEntry, answer: ProvisionAnswer
) -> InquiryResult:
    """Complete the pending record of ``answer.inquiry_id`` and deliver the final result.

    Only the inquiry's provider may complete it (``REC001`` otherwise, as for an unknown
    inquiry); a record that is not pending, or an answer that is itself "pending", is
    ``MAN004``, unless the record already holds this same outcome (a retry).
    """
    inquiry_id = str(answer.inquiry_id)
    final_code = answer.error.code if answer.error else None
    if final_code == MANUAL_PENDING_CODE:
        raise IpnsimError("MAN004", inquiry_id=inquiry_id)
    status_detail, status_info_type = outcome_statuses(final_code)
    items = answer.items if answer.error is None else []

    async def write(session: AsyncSession, log: Appender) -> InquiryResult:
        repository = RecordRepository(session)
        record = await repository.get(answer.inquiry_id)
        if record is None or record.provider_code != caller.code:
            raise IpnsimError("REC001", inquiry_id=inquiry_id)
        outcome = await repository.outcome(record.inquiry_id)
        current = outcome.error_code if outcome is not None else record.error_code
        if current == MANUAL_PENDING_CODE:
            log.append(
                HubOutcome(
                    inquiry_id=record.inquiry_id,
                    item_codes=[item.code for item in items],
                    provided_at=answer.provided_at,
                    status_detail=status_detail.value,
                    status_info_type=status_info_type.value,
                    error_code=final_code,
                    provider_non_disclosure=answer.provider_non_disclosure,
                    recorded_at=utcnow(),
                ),
                LogEventKind.OUTCOME,
            )
        elif current != final_code:
            raise IpnsimError("MAN004", inquiry_id=inquiry_id)
        return InquiryResult(
            inquiry_id=answer.inquiry_id,
            requester_code=record.requester_code,
            provider_code=record.provider_code,
            provider_name=record.provider_name,
            info_type_code=record.info_type_code,
            status_detail=status_detail,
            status_info_type=status_info_type,
            requested_at=record.requested_at,
            provided_at=answer.provided_at,
            items=items,
            replica=answer.replica if answer.error is None else None,
            error=answer.error,
        )

    result = await hub.log.write(hub.sessions, write)
    requester = hub.registry.get(result.requester_code)
    logger.info(
        "inquiry %s completed by its provider: %s%s",
        inquiry_id,
        status_detail.value + status_info_type.value,
        f" {final_code}" if final_code else "",
    )
    await hub.router.deliver_result(requester, result)
    return result
