"""The persona catalogue: named test people, each guaranteeing one outcome.

Every synthetic population (`agencies.population.generate_population`) contains these people,
whatever its seed and size. Each persona says what it demonstrates and, where an inquiry shows
it, the inquiry to send (requester, provider, affair, procedure, info type, fiscal year) and the
outcome it gives: the two statuses of the result file and the error-classification code.

A persona with a ``feature`` (for example ``"replica-freshness"``) carries the data for an
outcome that the network does not simulate yet; until then its inquiry gives the ``expected_*`` outcome written here, which
is today's (a plain answer), and a runner should not claim the persona's story is shown.

The names are stable: tests, the demo, the command line (``--persona``) and the hub's persona
list rely on them.
"""

from __future__ import annotations

from dataclasses import dataclass

MOVED_IN = "moved_in"
NAMESAKE = "namesake"
LIFELONG_YAMAGATA = "lifelong_yamagata"
NO_PSEUDONYM = "no_pseudonym"
REGISTERED_WITHOUT_TAX = "registered_without_tax"
ACCOUNT_HOLDER = "account_holder"
NO_ACCOUNT = "no_account"
ARRIVED_FROM_ABROAD = "arrived_from_abroad"
DEPENDANT_CLAIMED_TWICE = "dependant_claimed_twice"
NOT_PERMITTED = "not_permitted"
CARE_INSURED = "care_insured"
INTRACTABLE_DISEASE = "intractable_disease"
MANUAL_RESPONSE_HOLD = "manual_response_hold"
STALE_REPLICA = "stale_replica"
DEPENDANT_CLAIMED_NOWHERE_ELSE = "dependant_claimed_nowhere_else"
DEPENDANT_CLAIMED_IN_ONE_OTHER = "dependant_claimed_in_one_other"
DEPENDANT_CLAIMED_IN_TWO_OTHERS = "dependant_claimed_in_two_others"

PERSONA_NAMES = (
    MOVED_IN,
    NAMESAKE,
    LIFELONG_YAMAGATA,
    NO_PSEUDONYM,
    REGISTERED_WITHOUT_TAX,
    ACCOUNT_HOLDER,
    NO_ACCOUNT,
    ARRIVED_FROM_ABROAD,
    DEPENDANT_CLAIMED_TWICE,
    NOT_PERMITTED,
    CARE_INSURED,
    INTRACTABLE_DISEASE,
    MANUAL_RESPONSE_HOLD,
    STALE_REPLICA,
    DEPENDANT_CLAIMED_NOWHERE_ELSE,
    DEPENDANT_CLAIMED_IN_ONE_OTHER,
    DEPENDANT_CLAIMED_IN_TWO_OTHERS,
)
"""The fixed personas every population has, whatever the seed and size, in catalogue order."""

REPLICA_FRESHNESS_FEATURE = "replica-freshness"
"""The feature that makes replica freshness visible and simulates late replicas."""

# Status values of the result file (照会ステータス): 09/01 provided, 09/02 nothing held,
# 05/05 waiting for the provider's staff (自動応答不可), 99/99 an error (see
# network.protocol.models.DetailStatus and InfoTypeStatus).
COMPLETED = "09"
FAILED = "99"
PROVIDED = "01"
NO_DATA = "02"
ERROR = "99"
PENDING = "05"

LOCAL_TAX_INFO = "TM00000000000002"
"""特定個人情報名コード of local-tax information (地方税関係情報)."""
PUBLIC_FUND_ACCOUNT_INFO = "TM00000000000089"
"""特定個人情報名コード of public-fund account information (公金受取口座情報)."""
RESIDENT_INFO = "TM00000000000001"
"""住民票関係情報."""
PUBLIC_ASSISTANCE_INFO = "TM00000000000011"
"""生活保護関係情報."""
DISABILITY_CERTIFICATE_INFO = "TM00000000000021"
"""身体障害者手帳関係情報."""
CARE_INSURANCE_INFO = "TM00000000000031"
"""介護保険関係情報."""
INDEPENDENCE_SUPPORT_INFO = "TM00000000000041"
"""自立支援給付関係情報."""
CHILD_ALLOWANCE_INFO = "TM00000000000051"
"""児童手当関係情報."""
INTRACTABLE_DISEASE_INFO = "TM00000000000082"
"""難病関係情報."""
DEPENDANT_CLAIM_INFO = "TM00000000000062"
"""扶養親族申告情報 (**ours**): one dependant claimed by a taxpayer, by the holder's atena number."""
DUPLICATE_DEPENDANT_INFO = "TM00000000000063"
"""扶養親族重複照会回答 (**ours**): whether the person is claimed as a dependant there."""

# Affairs (事務) and procedures (事務手続) of network/protocol/data, used by the inquiries below.
NHI_AFFAIR = "JM01000000121000"
"""国民健康保険 (national health insurance)."""
NHI_TAX_PROCEDURE = "JT01010000000214"
"""国民健康保険料の賦課のための税情報照会 (real procedure code)."""
CHILD_ALLOWANCE_AFFAIR = "JM01000000041000"
"""児童手当."""
CHILD_ALLOWANCE_ACCOUNT_PROCEDURE = "JT01010000000001"
"""児童手当の支給先口座の確認（公金受取口座の照会） (real procedure code)."""
LOCAL_TAX_AFFAIR = "JM01000000161000"
"""地方税の賦課徴収."""
DEPENDANT_INCOME_PROCEDURE = "JT01610000000001"
"""個人住民税の賦課における扶養親族の所得の確認."""
DUPLICATE_DEPENDANT_PROCEDURE = "JT01610000000003"
"""個人住民税の賦課における扶養親族の重複の確認 (the duplicate-dependant finder's exchanges)."""
CARE_AFFAIR = "JM01000000231000"
"""介護保険."""
CARE_TAX_PROCEDURE = "JT02310000000214"
"""介護保険料の賦課のための税情報照会."""
DISABILITY_WELFARE_AFFAIR = "JM01000000331000"
"""障害者総合支援 (自立支援給付)."""
DISABILITY_WELFARE_INTRACTABLE_PROCEDURE = "JT03310000000002"
"""障害福祉サービスの支給申請における指定難病の確認."""
INTRACTABLE_DISEASE_AFFAIR = "JM01000000381000"
"""難病 (特定医療費の支給)."""
INTRACTABLE_DISEASE_PROCEDURE = "JT03810000000001"
"""特定医療費（指定難病）の支給認定申請における所得及び世帯の確認."""
CHILD_REARING_AFFAIR = "JM01000000051000"
"""児童扶養手当."""
CHILD_REARING_ACCOUNT_PROCEDURE = "JT00510000000002"
"""児童扶養手当の支払口座の確認（公金受取口座の照会）."""
INFECTIOUS_DISEASE_AFFAIR = "JM01000000281000"
"""感染症 (入院患者の医療費の公費負担)."""
INFECTIOUS_DISEASE_PROCEDURE = "JT02810000000001"
"""感染症患者の入院医療費の公費負担における自己負担額の認定（所得の確認）."""
CHILDCARE_AFFAIR = "JM01000000351000"
"""子ども・子育て支援."""
CHILDCARE_FEE_PROCEDURE = "JT03510000000001"
"""保育所等の利用者負担額（保育料）の決定のための税情報照会."""

NINE_AFFAIRS = (
    LOCAL_TAX_AFFAIR,
    NHI_AFFAIR,
    CHILD_REARING_AFFAIR,
    CHILD_ALLOWANCE_AFFAIR,
    CARE_AFFAIR,
    INFECTIOUS_DISEASE_AFFAIR,
    DISABILITY_WELFARE_AFFAIR,
    CHILDCARE_AFFAIR,
    INTRACTABLE_DISEASE_AFFAIR,
)
"""The nine affairs (事務) the source report surveyed, in its order."""


@dataclass(frozen=True, slots=True)
class PersonaInquiry:
    """The inquiry (情報照会) that shows a persona's outcome, and that outcome."""

    requester_slug: str
    provider_slug: str
    procedure_code: str
    affair_code: str
    info_type_code: str
    fiscal_year: int | None
    """照会条件: the fiscal year asked for; None for the latest information."""
    expected_status_detail: str
    """照会ステータス（明細単位）: ``09`` completed, ``99`` failed."""
    expected_status_info_type: str
    """照会ステータス（特定個人情報名単位）: ``01`` provided, ``02`` nothing held, ``99`` error."""
    expected_error_code: str | None
    """The error-classification code (e.g. ``RPL001``); None on success."""
    person_key: str = ""
    """The person the inquiry names: the persona's own person, except for
    ``dependant_claimed_twice``, whose inquiry is about a taxpayer who claims the persona."""


@dataclass(frozen=True, slots=True)
class Persona:
    """A named person with a story the tests and the demo rely on."""

    name: str
    description_en: str
    description_ja: str
    person_key: str
    demonstrates_en: str = ""
    """The outcome the persona guarantees, in one line."""
    demonstrates_ja: str = ""
    inquiry: PersonaInquiry | None = None
    """The inquiry that produces the outcome, with the outcome expected."""
    feature: str | None = None
    """The simulator feature the persona's story needs when it is not simulated yet."""


@dataclass(frozen=True, slots=True)
class _InquiryPlan:
    requester_slug: str
    provider_slug: str
    affair_code: str
    procedure_code: str
    info_type_code: str
    fiscal_year_offset: int | None
    """0 asks for the population's fiscal year, -1 for the one before; None for the latest."""
    outcome: tuple[str, str, str | None]


@dataclass(frozen=True, slots=True)
class _PersonaText:
    description_en: str
    description_ja: str
    demonstrates_en: str
    demonstrates_ja: str
    inquiry: _InquiryPlan | None
    feature: str | None = None


_SUCCESS = (COMPLETED, PROVIDED, None)
_NO_REPLICA = (COMPLETED, NO_DATA, "RPL001")
_MANUAL_PENDING = (PENDING, PENDING, "MAN001")


def _tax(requester: str, provider: str, outcome: tuple[str, str, str | None]) -> _InquiryPlan:
    """国保's tax-information inquiry for the population's fiscal year."""
    return _InquiryPlan(
        requester, provider, NHI_AFFAIR, NHI_TAX_PROCEDURE, LOCAL_TAX_INFO, 0, outcome
    )


def _account(outcome: tuple[str, str, str | None]) -> _InquiryPlan:
    """児童手当's public-fund account inquiry from 福岡市 to デジタル庁."""
    return _InquiryPlan(
        "fukuoka",
        "digital-agency",
        CHILD_ALLOWANCE_AFFAIR,
        CHILD_ALLOWANCE_ACCOUNT_PROCEDURE,
        PUBLIC_FUND_ACCOUNT_INFO,
        None,
        outcome,
    )


_TEXTS: dict[str, _PersonaText] = {
    MOVED_IN: _PersonaText(
        "Lived in Odawara on 1 January and before, moved to Yamagata this spring: Odawara holds"
        " the tax information of this and last fiscal year; Yamagata holds none.",
        "1月1日（賦課期日）以前から小田原市に住み、今年の春に山形市へ転入した人。"
        "今年度と前年度の地方税関係情報は小田原市が保有し、山形市には無い。",
        "Success: Yamagata obtains this fiscal year's local-tax information from Odawara.",
        "成功：山形市が小田原市から今年度の地方税関係情報を取得できる。",
        _tax("yamagata", "odawara", _SUCCESS),
    ),
    NAMESAKE: _PersonaText(
        "Another person who moved from Odawara to Yamagata, with the same family name, sex and"
        " a similar birth year as moved_in: the person staff may mistake for them.",
        "moved_in と同じ姓・性別・近い生年で、同じく小田原市から山形市へ転入した別人（誤照会の例）。",
        "A similar name: the inquiry succeeds, about the wrong person (mistaken-person training).",
        "似た氏名の別人：照会は成功するが対象者を取り違えている（誤照会の訓練）。",
        _tax("yamagata", "odawara", _SUCCESS),
    ),
    LIFELONG_YAMAGATA: _PersonaText(
        "Has always lived in Yamagata; registered only there, so Odawara holds no 符号 for them.",
        "ずっと山形市に住んでいる人。山形市にのみ登録され、小田原市は符号を持たない。",
        "The provider holds no 符号 for the person: IDN004.",
        "提供者に符号が無い：IDN004。",
        _tax("yamagata", "odawara", (FAILED, ERROR, "IDN004")),
    ),
    NO_PSEUDONYM: _PersonaText(
        "Registered at Yamagata, whose intermediate server has not obtained a 符号 for them.",
        "山形市に登録されているが、符号を未取得の人。",
        "符号 not acquired at the requester: IDN001.",
        "照会側で符号が未取得：IDN001。",
        _tax("yamagata", "odawara", (FAILED, ERROR, "IDN001")),
    ),
    REGISTERED_WITHOUT_TAX: _PersonaText(
        "Moved from Fukuoka to Odawara after 1 January, then on to Yamagata: registered at"
        " Odawara and Yamagata, but Odawara holds no tax information (Fukuoka does).",
        "1月1日後に福岡市から小田原市へ転入し、さらに山形市へ転出した人。"
        "小田原市に登録はあるが地方税関係情報は無い（福岡市が保有）。",
        "No replica at the provider: RPL001 with status 09/02.",
        "提供者に副本が無い：RPL001（ステータス 09/02）。",
        _tax("yamagata", "odawara", _NO_REPLICA),
    ),
    ACCOUNT_HOLDER: _PersonaText(
        "Lives in Fukuoka and has registered a public-fund account with the Digital Agency.",
        "福岡市に住み、デジタル庁に公金受取口座を登録している人。",
        "Success: Fukuoka obtains the public-fund account from the Digital Agency.",
        "成功：福岡市がデジタル庁から公金受取口座情報を取得できる。",
        _account(_SUCCESS),
    ),
    NO_ACCOUNT: _PersonaText(
        "Lives in Fukuoka, known to the Digital Agency, but has no public-fund account.",
        "福岡市に住み、デジタル庁に登録されているが公金受取口座が無い人。",
        "No public-fund account registered: RPL001 with status 09/02.",
        "公金受取口座が未登録：RPL001（ステータス 09/02）。",
        _account(_NO_REPLICA),
    ),
    ARRIVED_FROM_ABROAD: _PersonaText(
        "Came from abroad to Odawara between 1 January and 31 March (during the previous fiscal"
        " year), so no municipality assessed local tax for this fiscal year; Odawara's"
        " resident-registry information shows the previous address 国外. Treated for an"
        " intractable disease, certified by Kanagawa Prefecture.",
        "前年度中（1月2日〜3月31日）に国外から小田原市へ転入した人。賦課期日に国内に住所が無く、"
        "今年度の地方税関係情報はどの市町村にも無い。小田原市の住民票関係情報の前住所は「国外」。"
        "神奈川県の指定難病の支給認定を受けている。",
        "Arrived from abroad: Kanagawa's intractable-disease tax inquiry to Odawara gives RPL001"
        " (09/02), while the resident-registry information shows 前住所 国外.",
        "国外からの転入者：神奈川県（難病）から小田原市への税情報照会は RPL001（09/02）、"
        "住民票関係情報の前住所は「国外」。",
        _InquiryPlan(
            "kanagawa",
            "odawara",
            INTRACTABLE_DISEASE_AFFAIR,
            INTRACTABLE_DISEASE_PROCEDURE,
            LOCAL_TAX_INFO,
            0,
            _NO_REPLICA,
        ),
    ),
    DEPENDANT_CLAIMED_TWICE: _PersonaText(
        "A child living in Fukuoka with one parent, who claims the child as a dependant; the"
        " other parent moved to Yamagata last year and claims the same child for the same"
        " fiscal year. The inquiry names the Yamagata parent, who lived in Fukuoka on 1 January"
        " of last year.",
        "福岡市で親の一方と暮らす子。同居の親が扶養親族として申告し、前年に山形市へ転出した"
        "もう一方の親も同じ年度に同じ子を扶養親族として申告している（扶養の重複）。"
        "照会の対象は山形市の親（前年1月1日は福岡市に住んでいた）。",
        "A dependant claimed by taxpayers in two municipalities: Fukuoka's tax inquiry about the"
        " Yamagata parent succeeds and shows the dependant counted there too.",
        "二つの市町村の納税義務者から扶養親族とされている子：福岡市から山形市への照会で、"
        "山形市の親も同じ子を扶養親族に数えていることが分かる。",
        _InquiryPlan(
            "fukuoka",
            "yamagata",
            LOCAL_TAX_AFFAIR,
            DEPENDANT_INCOME_PROCEDURE,
            LOCAL_TAX_INFO,
            0,
            _SUCCESS,
        ),
    ),
    NOT_PERMITTED: _PersonaText(
        "Moved from Fukuoka to Yamagata this spring and receives public assistance in Yamagata."
        " Fukuoka's national health insurance asks Yamagata for the public-assistance"
        " information with its tax-information procedure, which the law does not allow"
        " (介護保険's JT02310000000003 or 地方税's JT01610000000002 may obtain it).",
        "今年の春に福岡市から山形市へ転入し、山形市で生活保護を受けている人。福岡市の国民健康保険が"
        "税情報照会の事務手続で生活保護関係情報を照会するが、その事務手続では照会が許可されていない。",
        "Not permitted for the procedure: PRM001.",
        "事務手続で照会が許可されていない：PRM001。",
        _InquiryPlan(
            "fukuoka",
            "yamagata",
            NHI_AFFAIR,
            NHI_TAX_PROCEDURE,
            PUBLIC_ASSISTANCE_INFO,
            None,
            (FAILED, ERROR, "PRM001"),
        ),
    ),
    CARE_INSURED: _PersonaText(
        "Aged 65 or over, lived in Odawara on 1 January and moved to Fukuoka this spring;"
        " certified as needing care, with long-term care insurance information at Fukuoka, the"
        " insurer now. Fukuoka fixes the premium from Odawara's tax information.",
        "65歳以上。1月1日は小田原市に住み、今年の春に福岡市へ転入した人。要介護認定を受け、"
        "介護保険関係情報は保険者の福岡市にある。福岡市は小田原市の税情報で保険料段階を決める。",
        "Success: Fukuoka's long-term care premium inquiry obtains Odawara's tax information.",
        "成功：福岡市（介護保険）が小田原市から地方税関係情報を取得できる。",
        _InquiryPlan(
            "fukuoka",
            "odawara",
            CARE_AFFAIR,
            CARE_TAX_PROCEDURE,
            LOCAL_TAX_INFO,
            0,
            _SUCCESS,
        ),
    ),
    INTRACTABLE_DISEASE: _PersonaText(
        "Lives in Odawara and is certified for a designated intractable disease by Kanagawa"
        " Prefecture, which holds the intractable-disease information.",
        "小田原市に住み、神奈川県から指定難病の支給認定を受けている人（難病関係情報は神奈川県が保有）。",
        "Success: Odawara's disability-welfare inquiry obtains the intractable-disease"
        " information from Kanagawa.",
        "成功：小田原市（障害福祉）が神奈川県から難病関係情報を取得できる。",
        _InquiryPlan(
            "odawara",
            "kanagawa",
            DISABILITY_WELFARE_AFFAIR,
            DISABILITY_WELFARE_INTRACTABLE_PROCEDURE,
            INTRACTABLE_DISEASE_INFO,
            None,
            _SUCCESS,
        ),
    ),
    MANUAL_RESPONSE_HOLD: _PersonaText(
        "Fled from Fukuoka to Yamagata this spring under support measures (DV支援措置):"
        " Fukuoka marks every replica about them as not to be answered automatically.",
        "支援措置（DV等）を受けて今年の春に福岡市から山形市へ転入した人。"
        "福岡市は本人の副本をすべて自動応答不可としている。",
        "Manual-response hold: the inquiry comes back pending (MAN001) and waits for staff at"
        " Fukuoka, who answer or decline it (ipnsim manual).",
        "自動応答不可：照会は回答待ち（MAN001）となり、福岡市の職員が回答または提供拒否する。",
        _tax("yamagata", "fukuoka", _MANUAL_PENDING),
    ),
    STALE_REPLICA: _PersonaText(
        "Lives in Odawara and moved within the city this spring, but Odawara never updated the"
        " resident-registry replica: it still shows the old address and was published years"
        " ago. Certified for an intractable disease by Kanagawa, which asks for it.",
        "小田原市内で今年の春に転居したが、小田原市が住民票関係情報の副本を更新しておらず、"
        "旧住所のまま何年も前の公開日になっている人。神奈川県の指定難病の支給認定を受けている。",
        "Stale replica: the answer shows the old address, published years ago (freshness is not"
        " shown yet: a plain answer until it is).",
        "古い副本：回答は旧住所で公開日が数年前（鮮度の表示は未実装のため、現在は通常の回答）。",
        _InquiryPlan(
            "kanagawa",
            "odawara",
            INTRACTABLE_DISEASE_AFFAIR,
            INTRACTABLE_DISEASE_PROCEDURE,
            RESIDENT_INFO,
            None,
            _SUCCESS,
        ),
        REPLICA_FRESHNESS_FEATURE,
    ),
}


def _finder(provider: str) -> _InquiryPlan:
    """The duplicate-dependant finder's exchange from 山形市 with one municipality."""
    return _InquiryPlan(
        "yamagata",
        provider,
        LOCAL_TAX_AFFAIR,
        DUPLICATE_DEPENDANT_PROCEDURE,
        DUPLICATE_DEPENDANT_INFO,
        0,
        _SUCCESS,
    )


_TEXTS |= {
    DEPENDANT_CLAIMED_NOWHERE_ELSE: _PersonaText(
        "Aged 70 or over, lived in Odawara on 1 January and moved to Yamagata this spring;"
        " a child in Yamagata claims them as a dependant, and no taxpayer elsewhere does."
        " Odawara knows them (it assesses their own tax) but holds no claim.",
        "70歳以上。1月1日は小田原市に住み、今年の春に山形市へ転入した人。山形市の子が扶養親族として"
        "申告しており、他の市町村の納税義務者は申告していない（小田原市は本人を知るが申告は無い）。",
        "Duplicate-dependant finder from Yamagata: no other municipality (Odawara answers not"
        " claimed).",
        "扶養重複照会（山形市から）：他の市町村での申告は無い（小田原市は「申告無し」と回答）。",
        _finder("odawara"),
    ),
    DEPENDANT_CLAIMED_IN_ONE_OTHER: _PersonaText(
        "Aged 70 or over, has always lived in Yamagata; a child living in Odawara claims them"
        " as a dependant in Odawara's assessment (Odawara registers them as a non-resident,"
        " 住登外者).",
        "70歳以上。ずっと山形市に住んでいる人。小田原市に住む子が小田原市の課税で扶養親族として"
        "申告している（小田原市は住登外者として登録）。",
        "Duplicate-dependant finder from Yamagata: one other municipality, Odawara.",
        "扶養重複照会（山形市から）：他の一つの市町村（小田原市）で申告されている。",
        _finder("odawara"),
    ),
    DEPENDANT_CLAIMED_IN_TWO_OTHERS: _PersonaText(
        "Aged 70 or over, has always lived in Yamagata; a child in Odawara and another in"
        " Fukuoka both claim them as a dependant for the same fiscal years.",
        "70歳以上。ずっと山形市に住んでいる人。小田原市の子と福岡市の子が同じ年度に二重に"
        "扶養親族として申告している。",
        "Duplicate-dependant finder from Yamagata: two other municipalities, Fukuoka and Odawara.",
        "扶養重複照会（山形市から）：他の二つの市町村（福岡市・小田原市）で申告されている。",
        _finder("fukuoka"),
    ),
}

FINDER_CLAIMANTS: dict[str, tuple[str, ...]] = {
    DEPENDANT_CLAIMED_NOWHERE_ELSE: (),
    DEPENDANT_CLAIMED_IN_ONE_OTHER: ("odawara",),
    DEPENDANT_CLAIMED_IN_TWO_OTHERS: ("fukuoka", "odawara"),
}
"""For each finder persona, the municipalities other than 山形市 (where they live) whose
taxpayers claim them as a dependant: what the finder from 山形市 must return, in code order."""


def _inquiry(plan: _InquiryPlan, fiscal_year: int, person_key: str) -> PersonaInquiry:
    detail, info_type, error = plan.outcome
    return PersonaInquiry(
        requester_slug=plan.requester_slug,
        provider_slug=plan.provider_slug,
        procedure_code=plan.procedure_code,
        affair_code=plan.affair_code,
        info_type_code=plan.info_type_code,
        fiscal_year=None
        if plan.fiscal_year_offset is None
        else fiscal_year + plan.fiscal_year_offset,
        expected_status_detail=detail,
        expected_status_info_type=info_type,
        expected_error_code=error,
        person_key=person_key,
    )


def make_persona(
    name: str, person_key: str, fiscal_year: int, inquiry_person_key: str | None = None
) -> Persona:
    """The persona ``name`` for the person ``person_key`` of a population for ``fiscal_year``.

    ``inquiry_person_key`` is the person the inquiry names when it is not the persona's own.
    """
    text = _TEXTS[name]
    inquiry = None
    if text.inquiry is not None:
        inquiry = _inquiry(text.inquiry, fiscal_year, inquiry_person_key or person_key)
    return Persona(
        name=name,
        description_en=text.description_en,
        description_ja=text.description_ja,
        person_key=person_key,
        demonstrates_en=text.demonstrates_en,
        demonstrates_ja=text.demonstrates_ja,
        inquiry=inquiry,
        feature=text.feature,
    )


@dataclass(frozen=True, slots=True)
class TourStop:
    """One affair of the catalogue inquired end to end for a persona (the affair tour)."""

    affair_code: str
    persona_name: str
    inquiry: PersonaInquiry


_TOUR_PLANS: dict[str, tuple[str, _InquiryPlan | None]] = {
    LOCAL_TAX_AFFAIR: (DEPENDANT_CLAIMED_TWICE, None),
    NHI_AFFAIR: (MOVED_IN, None),
    CHILD_REARING_AFFAIR: (
        ACCOUNT_HOLDER,
        _InquiryPlan(
            "fukuoka",
            "digital-agency",
            CHILD_REARING_AFFAIR,
            CHILD_REARING_ACCOUNT_PROCEDURE,
            PUBLIC_FUND_ACCOUNT_INFO,
            None,
            _SUCCESS,
        ),
    ),
    CHILD_ALLOWANCE_AFFAIR: (ACCOUNT_HOLDER, None),
    CARE_AFFAIR: (CARE_INSURED, None),
    INFECTIOUS_DISEASE_AFFAIR: (
        MOVED_IN,
        _InquiryPlan(
            "yamagata",
            "odawara",
            INFECTIOUS_DISEASE_AFFAIR,
            INFECTIOUS_DISEASE_PROCEDURE,
            LOCAL_TAX_INFO,
            0,
            _SUCCESS,
        ),
    ),
    DISABILITY_WELFARE_AFFAIR: (INTRACTABLE_DISEASE, None),
    CHILDCARE_AFFAIR: (
        MOVED_IN,
        _InquiryPlan(
            "yamagata",
            "odawara",
            CHILDCARE_AFFAIR,
            CHILDCARE_FEE_PROCEDURE,
            LOCAL_TAX_INFO,
            0,
            _SUCCESS,
        ),
    ),
    INTRACTABLE_DISEASE_AFFAIR: (
        INTRACTABLE_DISEASE,
        _InquiryPlan(
            "kanagawa",
            "odawara",
            INTRACTABLE_DISEASE_AFFAIR,
            INTRACTABLE_DISEASE_PROCEDURE,
            LOCAL_TAX_INFO,
            0,
            _SUCCESS,
        ),
    ),
}
"""For each of the nine affairs, a persona and the inquiry to send (None: its own inquiry)."""


def affair_tour(personas: dict[str, Persona], fiscal_year: int) -> list[TourStop]:
    """One inquiry for each of the nine affairs, each about a persona, in the report's order."""
    stops: list[TourStop] = []
    for affair in NINE_AFFAIRS:
        name, plan = _TOUR_PLANS[affair]
        persona = personas[name]
        if plan is None:
            assert persona.inquiry is not None, f"persona {name} has no inquiry"
            inquiry = persona.inquiry
        else:
            inquiry = _inquiry(
                plan,
                fiscal_year,
                persona.inquiry.person_key if persona.inquiry else persona.person_key,
            )
        stops.append(TourStop(affair, name, inquiry))
    return stops
