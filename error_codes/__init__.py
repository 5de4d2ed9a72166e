"""Standard error-classification codes (エラー分類コード) shared by every ipnsim service.

The real network's list (別紙2) is not public: the scheme here is ipnsim's own. A code is three
capital letters naming its category and three digits, e.g. ``PRM001``. Every code explains itself:
where it arises, whether a retry can help, the HTTP status it travels with, a Japanese message in
the style of the real intermediate server, an English message, the likely cause and the remedy.
"""

from error_codes.catalogue import CATALOGUE, Category, ErrorCode, Origin, lookup
from error_codes.errors import ErrorBody, FieldProblem, ForwardedError, IpnsimError, to_fullwidth

__all__ = [
    "CATALOGUE",
    "Category",
    "ErrorBody",
    "ErrorCode",
    "FieldProblem",
    "ForwardedError",
    "IpnsimError",
    "Origin",
    "lookup",
    "to_fullwidth",
]
