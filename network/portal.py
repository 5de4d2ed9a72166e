"""The person's own view of the exchanges about them (やりとり履歴), behind a mock My Number card.

A card (マイナンバーカード) carries an Ed25519 key pair standing for its user certificate
(利用者証明用電子証明書). The mock card authority (``ipnsim card issue``) registers the public key
with the hub for a person, named by resident code; the hub keeps only the keyed person key, never
the resident code nor the My Number. The person then logs in by signing a challenge:

1. ``POST /v1/portal/challenge`` with the card id → a challenge valid for a few minutes;
2. ``POST /v1/portal/session`` with the challenge signed by the card → a bearer token valid for
   :data:`SESSION_MINUTES` minutes (by the simulated clock);
3. ``GET /v1/portal/records`` with the token → that person's records only, paged, as JSON or CSV.

Challenges and tokens are sealed (HMAC under a key derived from the hub's secret), so every
hub process accepts them. A challenge opens one session only: its nonce is kept in the hub's
database (``spent_portal_challenges``, shared by every hub process) until it expires, and a
second log-in with it is refused, so a signed challenge seen by someone else is of no use to
them. The token names the card, never the person; the person is looked up
from the card at each request, and every query is filtered by that person's key, so no
inquiry id reaches another person's record.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import secrets
import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from error_codes import IpnsimError
from ipnsim.storage import utcnow
from network.db import PortalCard as CardRow
from network.db import SpentPortalChallenge as SpentChallenge
from network.protocol.models import (
    PortalCard,
    PortalCardIssue,
    PortalChallenge,
    PortalRecords,
    PortalSession,
    PortalSessionRequest,
    ProvisionRecord,
)
from network.pseudonyms import person_key
from network.repository import RecordRepository, disclosed_one, disclosed_page, record_view

CHALLENGE_MINUTES = 5
SESSION_MINUTES = 15
CHALLENGE_PREFIX = "ipnsim-portal-login/1:"
"""Every challenge starts with this, so a card's signature over it cannot be replayed
as a signature over anything else."""
MAX_PAGE_SIZE = 500


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PortalService:
    """Cards, log-in and the person's records."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], secret: bytes) -> None:
        self.sessions = sessions
        self.secret = secret
        self._key = hmac.new(secret, b"ipnsim portal tokens", hashlib.sha256).digest()

    # --- cards --------------------------------------------------------------------------------

    async def issue_card(self, body: PortalCardIssue) -> PortalCard:
        """Bind a card's public key to the person with this resident code (the operator, as the
        mock card authority)."""
        try:
            Ed25519PublicKey.from_public_bytes(base64.b64decode(body.public_key, validate=True))
        except ValueError:
            raise IpnsimError(
                "VAL001", field="public_key", problem="not a raw 32-byte Ed25519 key in base64"
            ) from None
        row = CardRow(
            card_id=str(uuid.uuid4()),
            person_key=person_key(self.secret, body.resident_code),
            public_key=body.public_key,
            issued_at=utcnow(),
        )
        async with self.sessions.begin() as session:
            session.add(row)
        return PortalCard(
            card_id=uuid.UUID(row.card_id), public_key=row.public_key, issued_at=row.issued_at
        )

    async def _card(self, card_id: str) -> CardRow | None:
        async with self.sessions() as session:
            return await session.get(CardRow, card_id)

    # --- log-in -------------------------------------------------------------------------------

    def _seal(self, payload: dict[str, object]) -> str:
        body = _b64(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())
        tag = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
        return f"{body}.{tag}"

    def _open(self, sealed: str, kind: str) -> dict[str, object] | None:
        """The payload of a challenge or token this hub sealed, or None if it is not one."""
        body, _, tag = sealed.partition(".")
        expected = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
        if not tag or not hmac.compare_digest(tag.encode(), expected.encode()):
            return None
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(payload, dict) or payload.get("kind") != kind:
            return None
        return payload

    async def challenge(self, card_id: uuid.UUID) -> PortalChallenge:
        """A challenge for the card to sign (AUT003 for a card the hub does not know)."""
        if await self._card(str(card_id)) is None:
            raise IpnsimError("AUT003")
        expires = utcnow() + dt.timedelta(minutes=CHALLENGE_MINUTES)
        sealed = self._seal(
            {
                "kind": "challenge",
                "card": str(card_id),
                "nonce": secrets.token_hex(16),
                "exp": expires.timestamp(),
            }
        )
        return PortalChallenge(
            card_id=card_id, challenge=CHALLENGE_PREFIX + sealed, expires_at=expires
        )

    async def open_session(self, body: PortalSessionRequest) -> PortalSession:
        """A bearer token for the card's holder, once they signed a fresh challenge with it.

        AUT003: unknown card, a challenge not issued for this card, a bad signature, or a
        challenge that has already opened a session; AUT005: the challenge expired."""
        card = await self._card(str(body.card_id))
        payload = (
            self._open(body.challenge.removeprefix(CHALLENGE_PREFIX), "challenge")
            if body.challenge.startswith(CHALLENGE_PREFIX)
            else None
        )
        if card is None or payload is None or payload.get("card") != card.card_id:
            raise IpnsimError("AUT003")
        try:
            Ed25519PublicKey.from_public_bytes(base64.b64decode(card.public_key)).verify(
                base64.b64decode(body.signature, validate=True), body.challenge.encode()
            )
        except (InvalidSignature, ValueError):
            raise IpnsimError("AUT003") from None
        now = utcnow()
        expiry = payload.get("exp")
        if not isinstance(expiry, float | int) or now.timestamp() > expiry:
            raise IpnsimError("AUT005")
        if not await self._spend(payload.get("nonce"), expiry, now):
            raise IpnsimError("AUT003")
        expires = now + dt.timedelta(minutes=SESSION_MINUTES)
        token = self._seal({"kind": "session", "card": card.card_id, "exp": expires.timestamp()})
        return PortalSession(access_token=token, expires_at=expires)

    async def _spend(self, nonce: object, expiry: float, now: dt.datetime) -> bool:
        """Mark the challenge with ``nonce`` used; False if it was already (or has no nonce).

        The challenges that have expired by ``now`` are forgotten in the same transaction:
        they are refused as expired from then on."""
        if not isinstance(nonce, str) or not nonce:
            return False
        try:
            async with self.sessions.begin() as session:
                await session.execute(delete(SpentChallenge).where(SpentChallenge.expires_at < now))
                session.add(
                    SpentChallenge(
                        nonce=nonce, expires_at=dt.datetime.fromtimestamp(expiry, dt.UTC)
                    )
                )
        except IntegrityError:
            return False
        return True

    async def person_of(self, token: str | None) -> str:
        """The person key behind a portal token (AUT004: none or forged; AUT005: expired)."""
        payload = self._open(token, "session") if token else None
        if payload is None or not isinstance(payload.get("card"), str):
            raise IpnsimError("AUT004")
        expiry = payload.get("exp")
        if not isinstance(expiry, float | int) or utcnow().timestamp() > float(expiry):
            raise IpnsimError("AUT005")
        card = await self._card(str(payload["card"]))
        if card is None:
            raise IpnsimError("AUT004")
        return card.person_key

    # --- the person's records -----------------------------------------------------------------

    async def records(self, person: str, page: int, page_size: int) -> PortalRecords:
        """One page of the person's own records (newest first), 不開示 ones left out."""
        async with self.sessions() as session:
            total, rows = await disclosed_page(session, person, (page - 1) * page_size, page_size)
            repository = RecordRepository(session)
            keys = [row.inquiry_id for row in rows]
            addenda = await repository.addenda(keys)
            outcomes = await repository.outcomes(keys)
        return PortalRecords(
            page=page,
            page_size=page_size,
            total=total,
            records=[
                record_view(row, addenda[row.inquiry_id], outcomes.get(row.inquiry_id))
                for row in rows
            ],
        )

    async def record(self, person: str, inquiry_id: uuid.UUID) -> ProvisionRecord:
        """One of the person's own records; REC001 for any other inquiry id, whoever's it is."""
        async with self.sessions() as session:
            row = await disclosed_one(session, person, str(inquiry_id))
            if row is None:
                raise IpnsimError("REC001", inquiry_id=str(inquiry_id))
            repository = RecordRepository(session)
            addenda = await repository.addenda([row.inquiry_id])
            outcome = await repository.outcome(row.inquiry_id)
        return record_view(row, addenda[row.inquiry_id], outcome)


CSV_COLUMNS = (
    "inquiry_id",
    "requested_at",
    "provided_at",
    "requester_code",
    "requester_name",
    "provider_code",
    "provider_name",
    "affair_code",
    "procedure_code",
    "info_type_code",
    "item_codes",
    "status",
    "error_code",
    "addenda",
)


def records_csv(page: PortalRecords) -> str:
    """The page as CSV (UTF-8, one row per record; items separated by spaces, addenda by
    ``; `` as ``kind: reason (declared_at)``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in page.records:
        writer.writerow(
            [
                record.inquiry_id,
                record.requested_at.isoformat(),
                record.provided_at.isoformat() if record.provided_at else "",
                record.requester_code,
                record.requester_name,
                record.provider_code,
                record.provider_name,
                record.affair_code,
                record.procedure_code,
                record.info_type_code,
                " ".join(record.item_codes),
                record.status_detail.value + record.status_info_type.value,
                record.error_code or "",
                "; ".join(
                    f"{addendum.kind.value}: {addendum.reason} ({addendum.declared_at.isoformat()})"
                    for addendum in record.addenda
                ),
            ]
        )
    return out.getvalue()
