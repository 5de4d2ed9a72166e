"""The legal permission table (番号法 別表): which inquiries the hub lets through."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from network.protocol.layouts import Catalogue
from network.protocol.models import AgencyKind


class PermissionTableError(ValueError):
    """The permission table file is malformed; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Permission:
    """One row: a requester of this kind may obtain this info type from a provider of that kind."""

    requester_kind: AgencyKind
    affair_code: str
    procedure_code: str
    info_type_code: str
    provider_kind: AgencyKind


_COLUMNS = ["requester_kind", "affair_code", "procedure_code", "info_type_code", "provider_kind"]


@dataclass(frozen=True)
class PermissionTable:
    rows: frozenset[Permission]

    @classmethod
    def load(cls, path: Path, catalogue: Catalogue) -> PermissionTable:
        """Read the table, checking every code against the catalogue."""
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise PermissionTableError(f"{path}: cannot be read: {exc}") from exc
        reader = csv.DictReader(lines)
        if reader.fieldnames != _COLUMNS:
            raise PermissionTableError(f"{path}:1: header must be {','.join(_COLUMNS)}")
        rows: set[Permission] = set()
        for row in reader:
            line = reader.line_num
            where = f"{path}:{line}"
            if None in row or any(value is None for value in row.values()):
                raise PermissionTableError(f"{where}: expected {len(_COLUMNS)} fields")
            try:
                permission = Permission(
                    AgencyKind(row["requester_kind"]),
                    row["affair_code"],
                    row["procedure_code"],
                    row["info_type_code"],
                    AgencyKind(row["provider_kind"]),
                )
            except ValueError as exc:
                raise PermissionTableError(f"{where}: {exc}") from None
            procedure = catalogue.procedures.get(permission.procedure_code)
            if permission.affair_code not in catalogue.affairs:
                raise PermissionTableError(f"{where}: unknown affair {permission.affair_code}")
            if procedure is None:
                raise PermissionTableError(
                    f"{where}: unknown procedure {permission.procedure_code}"
                )
            if procedure.affair_code != permission.affair_code:
                raise PermissionTableError(
                    f"{where}: procedure {procedure.code} belongs to {procedure.affair_code}"
                )
            info_type = catalogue.info_types.get(permission.info_type_code)
            if info_type is None:
                raise PermissionTableError(
                    f"{where}: unknown info type {permission.info_type_code}"
                )
            if permission.provider_kind != info_type.holder_kind:
                raise PermissionTableError(
                    f"{where}: provider kind {permission.provider_kind.value} does not hold "
                    f"info type {info_type.code} (its holder_kind is {info_type.holder_kind.value})"
                )
            if permission in rows:
                raise PermissionTableError(f"{where}: duplicate row")
            rows.add(permission)
        return cls(frozenset(rows))

    def allows(
        self,
        requester_kind: AgencyKind,
        affair_code: str,
        procedure_code: str,
        info_type_code: str,
        provider_kind: AgencyKind,
    ) -> bool:
        return (
            Permission(requester_kind, affair_code, procedure_code, info_type_code, provider_kind)
            in self.rows
        )
