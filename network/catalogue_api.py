"""Browsing the catalogue: for a procedure, what can be obtained, from whom, and which paper it
replaces.

Pure functions answer every question from a :class:`~network.protocol.layouts.Catalogue` and a
:class:`~network.permissions.PermissionTable`, so the hub's HTTP API (:func:`catalogue_router`)
and the offline command line (``ipnsim catalogue``) give the same answers. ``docs/catalogue.md``
is rendered by :func:`render_catalogue_markdown`; regenerate it with::

    python -m network.catalogue_api > docs/catalogue.md
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Protocol

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from error_codes import IpnsimError
from network.permissions import Permission, PermissionTable
from network.protocol.layouts import (
    Affair,
    Catalogue,
    InfoType,
    Item,
    Procedure,
    Source,
    ValueType,
    catalogue,
)
from network.protocol.models import AgencyKind
from network.settings import HubSettings

MAX_QUERY_LENGTH = 100
"""Longest search word accepted, in characters after normalisation."""

KIND_LABELS: dict[AgencyKind, tuple[str, str]] = {
    AgencyKind.MUNICIPALITY: ("市区町村", "municipality"),
    AgencyKind.PREFECTURE: ("都道府県", "prefecture"),
    AgencyKind.DIGITAL_AGENCY: ("デジタル庁", "Digital Agency"),
}
"""Japanese and English words for each agency kind, as "from whom" is shown."""

_KIND_ORDER = list(AgencyKind)


# --- answers ---------------------------------------------------------------------------------


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class AffairRef(_View):
    """An affair (事務), named."""

    code: str = Field(description="事務コード, JM + 14 digits.")
    name_ja: str
    name_en: str
    source: Source = Field(description="real, real-code or simulated (ipnsim's own code).")


class PaperView(_View):
    """A paper (添付書類) the applicant no longer has to bring."""

    name_ja: str
    name_en: str


class ItemView(_View):
    """One item (項目) of an info type's layout."""

    code: str = Field(description="Item code, I + 3 digits.")
    name_ja: str
    name_en: str
    value_type: ValueType
    dataset_number: str = Field(description="データセット番号 (ipnsim's: D + 3 digits).")
    source: Source


class InfoTypeRef(_View):
    """An info type a procedure may obtain, and from which kind of agency."""

    code: str = Field(description="特定個人情報名コード, TM + 14 digits.")
    name_ja: str
    name_en: str
    holder_kind: AgencyKind = Field(description="Kind of agency holding the replicas.")
    provider_kinds: list[AgencyKind] = Field(description="From whom: the provider kinds.")
    source: Source


class ObtainableInfoType(_View):
    """An info type a procedure may obtain: from whom, by whom, with its items."""

    code: str = Field(description="特定個人情報名コード, TM + 14 digits.")
    name_ja: str
    name_en: str
    layout_version: int = Field(description="Current layout version (版番号).")
    holder_kind: AgencyKind
    update_cycle_days: int = Field(description="更新周期: expected days between updates.")
    provider_kinds: list[AgencyKind] = Field(description="From whom: the provider kinds.")
    requester_kinds: list[AgencyKind] = Field(description="Who may ask: the requester kinds.")
    source: Source
    items: list[ItemView]


class _ProcedureFields(_View):
    code: str = Field(description="事務手続コード, JT + 14 digits.")
    affair: AffairRef
    name_ja: str
    name_en: str
    replaces_ja: str
    replaces_en: str
    papers: list[PaperView] = Field(description="The papers the procedure's inquiries replace.")
    requester_kinds: list[AgencyKind] = Field(description="Kinds of agency that may ask.")
    source: Source


class ProcedureSummary(_ProcedureFields):
    """A procedure (事務手続) in a list: its affair, the papers replaced, what it may obtain."""

    obtainable: list[InfoTypeRef]


class ProcedureView(_ProcedureFields):
    """One procedure in full: for each info type it may obtain, from whom and its items."""

    obtainable: list[ObtainableInfoType]


class AffairView(_View):
    """An affair (事務) with its procedures."""

    code: str = Field(description="事務コード, JM + 14 digits.")
    name_ja: str
    name_en: str
    source: Source
    procedures: list[ProcedureSummary]


class InfoTypeUse(_View):
    """A procedure through which an info type may be obtained."""

    procedure_code: str
    procedure_name_ja: str
    procedure_name_en: str
    affair_code: str
    requester_kinds: list[AgencyKind]
    provider_kinds: list[AgencyKind]
    replaces_ja: str
    replaces_en: str


class InfoTypeView(_View):
    """An info type (特定個人情報名): its items and the procedures that may obtain it."""

    code: str = Field(description="特定個人情報名コード, TM + 14 digits.")
    name_ja: str
    name_en: str
    layout_version: int
    holder_kind: AgencyKind
    update_cycle_days: int
    """更新周期: expected days between updates of a replica (older answers are stale)."""
    source: Source
    items: list[ItemView]
    obtainable_by: list[InfoTypeUse]


class HitKind(StrEnum):
    """What a search hit is."""

    AFFAIR = "affair"
    PROCEDURE = "procedure"
    PAPER = "paper"
    INFO_TYPE = "info_type"
    ITEM = "item"


class SearchHit(_View):
    """One thing whose name (Japanese or English) or code contains every word of the query."""

    kind: HitKind
    code: str | None = Field(
        description="The affair, procedure, info type or item code; none for a paper."
    )
    name_ja: str
    name_en: str
    info_type_code: str | None = Field(default=None, description="For an item: its info type.")
    procedure_codes: list[str] = Field(
        description="Procedures concerned: an affair's, those that may obtain an info type or "
        "item, those whose inquiries replace a paper."
    )
    matched: list[str] = Field(description="Fields in which the query was found.")


# --- pure functions --------------------------------------------------------------------------


def normalise(text: str) -> str:
    """NFKC-normalised and case-folded, so that ＴＡＸ, Tax and tax match alike."""
    return unicodedata.normalize("NFKC", text).casefold()


def _normalise_code(code: str) -> str:
    return unicodedata.normalize("NFKC", code).strip().upper()


def _kinds(kinds: Iterable[AgencyKind]) -> list[AgencyKind]:
    return sorted(set(kinds), key=_KIND_ORDER.index)


def _rows_of(permissions: PermissionTable, procedure_code: str) -> list[Permission]:
    return [row for row in permissions.rows if row.procedure_code == procedure_code]


def _ordered_info_types(catalogue: Catalogue, codes: Iterable[str]) -> list[InfoType]:
    wanted = set(codes)
    return [info_type for code, info_type in catalogue.info_types.items() if code in wanted]


def _affair_ref(affair: Affair) -> AffairRef:
    return AffairRef(
        code=affair.code, name_ja=affair.name_ja, name_en=affair.name_en, source=affair.source
    )


def _item_view(item: Item) -> ItemView:
    return ItemView(
        code=item.code,
        name_ja=item.name_ja,
        name_en=item.name_en,
        value_type=item.value_type,
        dataset_number=item.dataset_number,
        source=item.source,
    )


def _papers(procedure: Procedure) -> list[PaperView]:
    return [PaperView(name_ja=p.name_ja, name_en=p.name_en) for p in procedure.papers]


def _unknown(kind_ja: str, kind_en: str, code: str) -> IpnsimError:
    return IpnsimError("VAL006", kind_ja=kind_ja, kind_en=kind_en, code=code)


def _require_procedure(catalogue: Catalogue, code: str) -> Procedure:
    procedure = catalogue.procedures.get(_normalise_code(code))
    if procedure is None:
        raise _unknown("事務手続コード", "procedure", code)
    return procedure


def _summary(
    catalogue: Catalogue, permissions: PermissionTable, procedure: Procedure
) -> ProcedureSummary:
    rows = _rows_of(permissions, procedure.code)
    obtainable = [
        InfoTypeRef(
            code=info_type.code,
            name_ja=info_type.name_ja,
            name_en=info_type.name_en,
            holder_kind=info_type.holder_kind,
            provider_kinds=_kinds(
                r.provider_kind for r in rows if r.info_type_code == info_type.code
            ),
            source=info_type.source,
        )
        for info_type in _ordered_info_types(catalogue, (r.info_type_code for r in rows))
    ]
    return ProcedureSummary(
        code=procedure.code,
        affair=_affair_ref(catalogue.affairs[procedure.affair_code]),
        name_ja=procedure.name_ja,
        name_en=procedure.name_en,
        replaces_ja=procedure.replaces_ja,
        replaces_en=procedure.replaces_en,
        papers=_papers(procedure),
        requester_kinds=_kinds(r.requester_kind for r in rows),
        source=procedure.source,
        obtainable=obtainable,
    )


def list_procedures(catalogue: Catalogue, permissions: PermissionTable) -> list[ProcedureSummary]:
    """Every procedure, in catalogue order, with what it may obtain."""
    return [_summary(catalogue, permissions, p) for p in catalogue.procedures.values()]


def describe_procedure(
    catalogue: Catalogue, permissions: PermissionTable, code: str
) -> ProcedureView:
    """For this procedure: what can be obtained, from whom, and which paper it replaces.

    ``VAL006`` if the catalogue has no procedure ``code``.
    """
    procedure = _require_procedure(catalogue, code)
    rows = _rows_of(permissions, procedure.code)
    obtainable: list[ObtainableInfoType] = []
    for info_type in _ordered_info_types(catalogue, (r.info_type_code for r in rows)):
        own = [r for r in rows if r.info_type_code == info_type.code]
        obtainable.append(
            ObtainableInfoType(
                code=info_type.code,
                name_ja=info_type.name_ja,
                name_en=info_type.name_en,
                layout_version=info_type.layout_version,
                holder_kind=info_type.holder_kind,
                update_cycle_days=info_type.update_cycle_days,
                provider_kinds=_kinds(r.provider_kind for r in own),
                requester_kinds=_kinds(r.requester_kind for r in own),
                source=info_type.source,
                items=[_item_view(item) for item in info_type.items],
            )
        )
    return ProcedureView(
        code=procedure.code,
        affair=_affair_ref(catalogue.affairs[procedure.affair_code]),
        name_ja=procedure.name_ja,
        name_en=procedure.name_en,
        replaces_ja=procedure.replaces_ja,
        replaces_en=procedure.replaces_en,
        papers=_papers(procedure),
        requester_kinds=_kinds(r.requester_kind for r in rows),
        source=procedure.source,
        obtainable=obtainable,
    )


def _affair_view(catalogue: Catalogue, permissions: PermissionTable, affair: Affair) -> AffairView:
    return AffairView(
        code=affair.code,
        name_ja=affair.name_ja,
        name_en=affair.name_en,
        source=affair.source,
        procedures=[
            _summary(catalogue, permissions, procedure)
            for procedure in catalogue.procedures.values()
            if procedure.affair_code == affair.code
        ],
    )


def list_affairs(catalogue: Catalogue, permissions: PermissionTable) -> list[AffairView]:
    """Every affair, in catalogue order, with its procedures."""
    return [_affair_view(catalogue, permissions, a) for a in catalogue.affairs.values()]


def describe_affair(catalogue: Catalogue, permissions: PermissionTable, code: str) -> AffairView:
    """An affair and its procedures; ``VAL006`` if the catalogue has no affair ``code``."""
    affair = catalogue.affairs.get(_normalise_code(code))
    if affair is None:
        raise _unknown("事務コード", "affair", code)
    return _affair_view(catalogue, permissions, affair)


def _info_type_view(
    catalogue: Catalogue, permissions: PermissionTable, info_type: InfoType
) -> InfoTypeView:
    uses: list[InfoTypeUse] = []
    for procedure in catalogue.procedures.values():
        rows = [
            r for r in _rows_of(permissions, procedure.code) if r.info_type_code == info_type.code
        ]
        if rows:
            uses.append(
                InfoTypeUse(
                    procedure_code=procedure.code,
                    procedure_name_ja=procedure.name_ja,
                    procedure_name_en=procedure.name_en,
                    affair_code=procedure.affair_code,
                    requester_kinds=_kinds(r.requester_kind for r in rows),
                    provider_kinds=_kinds(r.provider_kind for r in rows),
                    replaces_ja=procedure.replaces_ja,
                    replaces_en=procedure.replaces_en,
                )
            )
    return InfoTypeView(
        code=info_type.code,
        name_ja=info_type.name_ja,
        name_en=info_type.name_en,
        layout_version=info_type.layout_version,
        holder_kind=info_type.holder_kind,
        update_cycle_days=info_type.update_cycle_days,
        source=info_type.source,
        items=[_item_view(item) for item in info_type.items],
        obtainable_by=uses,
    )


def list_info_types(catalogue: Catalogue, permissions: PermissionTable) -> list[InfoTypeView]:
    """Every info type, in catalogue order, with its items and the procedures obtaining it."""
    return [_info_type_view(catalogue, permissions, i) for i in catalogue.info_types.values()]


def describe_info_type(
    catalogue: Catalogue, permissions: PermissionTable, code: str
) -> InfoTypeView:
    """An info type with its items; ``VAL006`` if the catalogue has no info type ``code``."""
    info_type = catalogue.require_info_type(_normalise_code(code))
    return _info_type_view(catalogue, permissions, info_type)


def describe_code(
    catalogue: Catalogue, permissions: PermissionTable, code: str
) -> AffairView | ProcedureView | InfoTypeView:
    """Whatever ``code`` names: an affair (JM…), a procedure (JT…) or an info type (TM…)."""
    normalised = _normalise_code(code)
    if normalised.startswith("JM"):
        return describe_affair(catalogue, permissions, normalised)
    if normalised.startswith("JT"):
        return describe_procedure(catalogue, permissions, normalised)
    if normalised.startswith("TM"):
        return describe_info_type(catalogue, permissions, normalised)
    raise _unknown("コード", "affair, procedure or info type code", code)


def _query_words(word: str) -> list[str]:
    text = normalise(word).strip()
    if not text:
        raise IpnsimError("VAL001", field="q", problem="the search word must not be empty")
    if len(text) > MAX_QUERY_LENGTH:
        raise IpnsimError(
            "VAL001",
            field="q",
            problem=f"the search word must be at most {MAX_QUERY_LENGTH} characters",
        )
    return text.split()


def _matched(words: list[str], fields: dict[str, str]) -> list[str] | None:
    """The fields containing a word, if every word is found in some field; else None."""
    texts = {name: normalise(value) for name, value in fields.items()}
    if not all(any(word in text for text in texts.values()) for word in words):
        return None
    return [name for name, text in texts.items() if any(word in text for word in words)]


def _procedures_obtaining(
    permissions: PermissionTable, catalogue: Catalogue
) -> dict[str, list[str]]:
    codes: dict[str, set[str]] = {}
    for row in permissions.rows:
        codes.setdefault(row.info_type_code, set()).add(row.procedure_code)
    order = list(catalogue.procedures)
    return {code: sorted(found, key=order.index) for code, found in codes.items()}


_SEARCHED_FIELDS: dict[HitKind, tuple[str, ...]] = {
    HitKind.AFFAIR: ("code", "name_ja", "name_en"),
    HitKind.PROCEDURE: ("code", "name_ja", "name_en"),
    HitKind.PAPER: ("name_ja", "name_en"),
    HitKind.INFO_TYPE: ("code", "name_ja", "name_en"),
    HitKind.ITEM: ("name_ja", "name_en"),
}
"""For each kind of hit, the fields a query is looked for in: papers and items by their names
only."""


@dataclass(frozen=True)
class _Candidate:
    """Something a search may find, with what its hit shows."""

    kind: HitKind
    code: str | None
    name_ja: str
    name_en: str
    procedure_codes: list[str]
    info_type_code: str | None = None


class _Named(Protocol):
    """An affair, procedure, info type or item: a code and names in both languages."""

    @property
    def code(self) -> str: ...
    @property
    def name_ja(self) -> str: ...
    @property
    def name_en(self) -> str: ...


def _candidate(
    kind: HitKind, named: _Named, procedure_codes: list[str], info_type_code: str | None = None
) -> _Candidate:
    return _Candidate(
        kind, named.code, named.name_ja, named.name_en, procedure_codes, info_type_code
    )


def _candidates(catalogue: Catalogue, permissions: PermissionTable) -> Iterator[_Candidate]:
    """Affairs, procedures, papers (one per name, with every procedure it is attached to), info
    types and items, in this order, each in catalogue order."""
    procedures = catalogue.procedures.values()
    for affair in catalogue.affairs.values():
        affair_procedures = [p.code for p in procedures if p.affair_code == affair.code]
        yield _candidate(HitKind.AFFAIR, affair, affair_procedures)
    for procedure in procedures:
        yield _candidate(HitKind.PROCEDURE, procedure, [procedure.code])
    papers: dict[tuple[str, str], list[str]] = {}
    for procedure in procedures:
        for paper in procedure.papers:
            papers.setdefault((paper.name_ja, paper.name_en), []).append(procedure.code)
    for (name_ja, name_en), procedure_codes in papers.items():
        yield _Candidate(HitKind.PAPER, None, name_ja, name_en, procedure_codes)
    obtaining = _procedures_obtaining(permissions, catalogue)
    for info_type in catalogue.info_types.values():
        yield _candidate(HitKind.INFO_TYPE, info_type, obtaining.get(info_type.code, []))
    for info_type in catalogue.info_types.values():
        for item in info_type.items:
            codes = obtaining.get(info_type.code, [])
            yield _candidate(HitKind.ITEM, item, codes, info_type_code=info_type.code)


def _hits(
    catalogue: Catalogue, permissions: PermissionTable, words: list[str]
) -> Iterator[SearchHit]:
    for candidate in _candidates(catalogue, permissions):
        fields = {name: getattr(candidate, name) for name in _SEARCHED_FIELDS[candidate.kind]}
        matched = _matched(words, fields)
        if matched is not None:
            yield SearchHit(
                kind=candidate.kind,
                code=candidate.code,
                name_ja=candidate.name_ja,
                name_en=candidate.name_en,
                info_type_code=candidate.info_type_code,
                procedure_codes=candidate.procedure_codes,
                matched=matched,
            )


def search(catalogue: Catalogue, permissions: PermissionTable, word: str) -> list[SearchHit]:
    """Affairs, procedures, papers, info types and items whose Japanese or English name (or
    code) contains every word of ``word``, compared NFKC-normalised and case-folded.

    ``VAL001`` (field ``q``) if the query is empty or longer than :data:`MAX_QUERY_LENGTH`.
    """
    return list(_hits(catalogue, permissions, _query_words(word)))


# --- the HTTP API ----------------------------------------------------------------------------


def catalogue_router(catalogue: Catalogue, permissions: PermissionTable) -> APIRouter:
    """``GET /v1/catalogue/…``: browse affairs, procedures, info types; search them."""
    router = APIRouter(prefix="/v1/catalogue", tags=["catalogue"])

    @router.get("/affairs")
    async def get_affairs() -> list[AffairView]:
        """Every affair (事務) with its procedures."""
        return list_affairs(catalogue, permissions)

    @router.get("/affairs/{code}")
    async def get_affair(code: str) -> AffairView:
        """One affair (事務) with its procedures; VAL006 if unknown."""
        return describe_affair(catalogue, permissions, code)

    @router.get("/procedures")
    async def get_procedures() -> list[ProcedureSummary]:
        """Every procedure (事務手続): affair, name, paper replaced, obtainable info types."""
        return list_procedures(catalogue, permissions)

    @router.get("/procedures/{code}")
    async def get_procedure(code: str) -> ProcedureView:
        """For this procedure: what can be obtained, from whom, with which items, and which
        paper it replaces; VAL006 if unknown."""
        return describe_procedure(catalogue, permissions, code)

    @router.get("/info-types")
    async def get_info_types() -> list[InfoTypeView]:
        """Every info type (特定個人情報名) with its items."""
        return list_info_types(catalogue, permissions)

    @router.get("/info-types/{code}")
    async def get_info_type(code: str) -> InfoTypeView:
        """One info type: its items and the procedures that may obtain it; VAL006 if unknown."""
        return describe_info_type(catalogue, permissions, code)

    @router.get("/search")
    async def get_search(
        q: Annotated[str, Query(description="A Japanese or English word, e.g. 課税証明書 or tax.")],
    ) -> list[SearchHit]:
        """Affairs, procedures, papers, info types and items whose name contains the word."""
        return search(catalogue, permissions, q)

    return router


# --- shipped data and docs/catalogue.md ------------------------------------------------------


@functools.cache
def shipped_permissions() -> PermissionTable:
    """The permission table shipped with ipnsim (the hub's default), checked against the
    shipped catalogue."""
    path = HubSettings.model_fields["permissions_file"].default
    return PermissionTable.load(path, catalogue())


def kind_label(kind: AgencyKind) -> str:
    """``市区町村 (municipality)`` and the like."""
    ja, en = KIND_LABELS[kind]
    return f"{ja} ({en})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code_cell(code: str, source: Source) -> str:
    return f"`{code}`" + (" (simulated)" if source is Source.SIMULATED else "")


_HEADER = """\
# Catalogue: what each procedure can obtain, from whom, and which paper it replaces

<!-- Generated from network/protocol/data/*.csv and network/data/permissions.csv by
     network.catalogue_api.render_catalogue_markdown. Do not edit by hand; regenerate with:
     python -m network.catalogue_api > docs/catalogue.md
     (tests/unit/test_catalogue_browse.py fails when this file is out of date.) -->

For every affair (事務) and procedure (事務手続) of ipnsim's catalogue: the kind of agency that
may ask (照会者), the info types (特定個人情報名) it may obtain, the kind of agency that provides
them ("from whom", 提供者) and the paper the inquiry replaces (代替する書類). The same answers are
served by the hub at `GET /v1/catalogue/…` and, offline, by
`ipnsim catalogue list | show CODE | search WORD`.

Codes marked *(simulated)* are ipnsim's own; the others are seen in public material (see
`network/protocol/data/README.md`). Every item code and dataset number is simulated.
"""


def render_catalogue_markdown(catalogue: Catalogue, permissions: PermissionTable) -> str:
    """``docs/catalogue.md``: a table per affair, then the items of every info type."""
    lines = [_HEADER]
    for affair in list_affairs(catalogue, permissions):
        lines += [
            f"## {_cell(affair.name_ja)}",
            "",
            f"{_cell(affair.name_en)} — {_code_cell(affair.code, affair.source)}",
            "",
            "| procedure (事務手続) | requester (照会者) | info type (特定個人情報名) "
            "| from whom (提供者) | paper replaced (代替する書類) |",
            "|---|---|---|---|---|",
        ]
        for summary in affair.procedures:
            procedure = (
                f"{_code_cell(summary.code, summary.source)}<br>{_cell(summary.name_ja)}"
                f"<br>{_cell(summary.name_en)}"
            )
            requesters = ", ".join(kind_label(k) for k in summary.requester_kinds) or "—"
            papers = "<br>".join(f"{_cell(p.name_ja)} ({_cell(p.name_en)})" for p in summary.papers)
            obtainable: list[InfoTypeRef | None] = [*summary.obtainable] or [None]
            for position, info_type in enumerate(obtainable):
                if position == 1:  # the same procedure obtains a further info type
                    procedure = requesters = papers = "〃"
                if info_type is None:
                    obtained, providers = "— (no permission row)", "—"
                else:
                    obtained = (
                        f"{_code_cell(info_type.code, info_type.source)}<br>"
                        f"{_cell(info_type.name_ja)} ({_cell(info_type.name_en)})"
                    )
                    providers = ", ".join(kind_label(k) for k in info_type.provider_kinds)
                lines.append(
                    f"| {procedure} | {requesters} | {obtained} | {providers} | {papers} |"
                )
        lines.append("")
    lines += ["## Info types and their items (特定個人情報名と項目)", ""]
    for view in list_info_types(catalogue, permissions):
        lines += [
            f"### {view.code} {_cell(view.name_ja)}",
            "",
            f"{_cell(view.name_en)} — {_code_cell(view.code, view.source)}; "
            f"held by: {kind_label(view.holder_kind)}; layout version {view.layout_version}; "
            f"updated every {view.update_cycle_days} day(s); "
            f"obtainable by {', '.join(f'`{use.procedure_code}`' for use in view.obtainable_by) or 'no procedure'}",
            "",
            "| item | 項目名 | name | type | dataset |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {item.code} | {_cell(item.name_ja)} | {_cell(item.name_en)} "
            f"| {item.value_type.value} | {item.dataset_number} |"
            for item in view.items
        ]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    rendered = render_catalogue_markdown(catalogue(), shipped_permissions())
    sys.stdout.buffer.write(rendered.encode("utf-8"))
    sys.stdout.buffer.flush()
