"""The exception every service raises for a catalogued failure, and its wire form."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from error_codes.catalogue import Category, ErrorCode, Origin, lookup
from error_codes.recording import record

_FULLWIDTH = str.maketrans(
    {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)} | {" ": "\u3000"},
)


_QUOTED = re.compile(r"「\{(\w+)\}」")


def to_fullwidth(text: str) -> str:
    """Write ASCII letters, digits and signs in full width, as the real messages do (「０１２」)."""
    return text.translate(_FULLWIDTH)


class _Params(dict[str, str]):
    """Format parameters that leave an unknown ``{name}`` visible instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _render(template: str, params: Mapping[str, str]) -> str:
    return string.Formatter().vformat(template, (), _Params(params))


class FieldProblem(BaseModel):
    """One field of a request that failed validation."""

    model_config = ConfigDict(frozen=True)

    field: str = Field(description="Dotted path of the field, e.g. 'condition.fiscal_year'.")
    problem: str = Field(description="What is wrong with it, in English.")


class ErrorBody(BaseModel):
    """The body of every error answer, and the error part of an inquiry result."""

    code: str = Field(description="Error-classification code (エラー分類コード), e.g. PRM001.")
    origin: Origin
    category: Category
    retryable: bool
    message_ja: str = Field(description="Japanese message in the real intermediate server's style.")
    message_en: str
    explanation: str = Field(description="Path of this code's explanation on any ipnsim service.")
    details: list[FieldProblem] = Field(default_factory=list)


class IpnsimError(Exception):
    """A failure that has an error-classification code.

    ``params`` fill the placeholders of the code's messages; in the Japanese message they are
    written in full width, as the real network writes them. ``retry_after``, when set, is sent
    as the answer's Retry-After header (seconds).
    """

    retry_after: int | None = None

    def __init__(
        self,
        code: str,
        /,
        details: list[FieldProblem] | None = None,
        **params: str,
    ) -> None:
        self.entry: ErrorCode = lookup(code)
        self.params: dict[str, str] = {key: str(value) for key, value in params.items()}
        self.details: list[FieldProblem] = details or []
        super().__init__(f"{code}: {self.message_en}")

    @property
    def code(self) -> str:
        return self.entry.code

    @property
    def http_status(self) -> int:
        return self.entry.http_status

    @property
    def message_en(self) -> str:
        return _render(self.entry.message_en, self.params)

    @property
    def message_ja(self) -> str:
        """Values quoted in 「」 are written in full width, as the real messages write them."""
        params = {key: value for key, value in self.params.items()}

        def quote(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.params:
                return match.group(0)
            params[f"{name}_quoted"] = to_fullwidth(self.params[name])
            return "「{" + name + "_quoted}」"

        return _render(_QUOTED.sub(quote, self.entry.message_ja), params)

    def body(self) -> ErrorBody:
        """The wire form of this error."""
        record(self.entry.code)
        return ErrorBody(
            code=self.entry.code,
            origin=self.entry.origin,
            category=self.entry.category,
            retryable=self.entry.retryable,
            message_ja=self.message_ja,
            message_en=self.message_en,
            explanation=f"/v1/errors/{self.entry.code}",
            details=self.details,
        )


class ForwardedError(IpnsimError):
    """An error received over the wire, passed on with the messages its origin rendered."""

    def __init__(self, body: ErrorBody) -> None:
        self._body = body
        super().__init__(body.code, details=body.details)

    @property
    def message_en(self) -> str:
        return self._body.message_en

    @property
    def message_ja(self) -> str:
        return self._body.message_ja
