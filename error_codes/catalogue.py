"""The catalogue of error-classification codes: the single source of truth.

Messages may name parameters in braces (``{atena_number}``). In the Japanese message each value is
written in full-width characters inside 「」, as the real intermediate server does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Origin(StrEnum):
    """Which side of the network raises the code."""

    REQUESTER_SERVER = "requester_server"
    """The requester's intermediate server (照会側中間サーバー)."""
    HUB = "hub"
    """The information-provision network system (情報提供ネットワークシステム)."""
    PROVIDER_SERVER = "provider_server"
    """The provider's intermediate server (提供側中間サーバー)."""
    ANY = "any"
    """Any service: request-level problems every service detects alike."""


class Category(StrEnum):
    """What kind of failure a code describes."""

    VALIDATION = "validation"
    AUTHENTICATION = "authentication"
    AGENCY = "agency"
    IDENTITY = "identity"
    PERMISSION = "permission"
    REPLICA = "replica"
    AVAILABILITY = "availability"
    RECORDS = "records"
    INTERNAL = "internal"
    MANUAL_RESPONSE = "manual_response"
    """A replica flagged 自動応答不可: the answer waits for staff at the provider."""
    IDEMPOTENCY = "idempotency"
    """A request repeated under the same Idempotency-Key (冪等キー)."""
    BATCH = "batch"
    """一括照会: a request file, or a batch job of the requester's intermediate server."""
    SANDBOX = "sandbox"
    """サンドボックス: the X-Ipnsim-Sandbox key of a request, or a service's sandboxes."""


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """One error-classification code (エラー分類コード) and everything needed to understand it."""

    code: str
    origin: Origin
    category: Category
    retryable: bool
    http_status: int
    message_ja: str
    message_en: str
    cause: str
    remedy: str


_CODES: tuple[ErrorCode, ...] = (
    # --- validation: every service checks the shape of what it receives -------------------
    ErrorCode(
        "VAL001",
        Origin.ANY,
        Category.VALIDATION,
        False,
        422,
        "入力値に誤りがあります。項目「{field}」：{problem}",
        "The request has an invalid field '{field}': {problem}",
        "A field is missing, has the wrong shape (JM/JT/TM codes, 16-digit agency codes, "
        "15-digit atena numbers, dates) or an impossible value.",
        "Correct the field named in 'details' and send the request again.",
    ),
    ErrorCode(
        "VAL002",
        Origin.ANY,
        Category.VALIDATION,
        False,
        400,
        "要求電文を解釈できません。",
        "The request body is not valid JSON.",
        "The body is empty, truncated or not JSON, or its Content-Type is wrong.",
        "Send a JSON object with Content-Type: application/json.",
    ),
    ErrorCode(
        "VAL003",
        Origin.ANY,
        Category.VALIDATION,
        False,
        413,
        "要求電文が上限サイズ「{limit}」バイトを超えています。",
        "The request body exceeds the limit of {limit} bytes.",
        "The body is larger than this service accepts in one request.",
        "Split the data into smaller requests (a batch job takes large files).",
    ),
    ErrorCode(
        "VAL004",
        Origin.ANY,
        Category.VALIDATION,
        False,
        404,
        "指定された機能「{path}」は存在しません。",
        "There is no endpoint at '{path}'.",
        "The URL is misspelt, or the client targets another service or API version.",
        "Check the path against the service's OpenAPI document at /docs.",
    ),
    ErrorCode(
        "VAL005",
        Origin.ANY,
        Category.VALIDATION,
        False,
        405,
        "指定された機能「{path}」はこの方式では利用できません。",
        "The endpoint '{path}' does not accept this HTTP method.",
        "The client used GET where POST was expected, or the reverse.",
        "Check the method against the service's OpenAPI document at /docs.",
    ),
    ErrorCode(
        "VAL006",
        Origin.ANY,
        Category.VALIDATION,
        False,
        422,
        "指定された{kind_ja}「{code}」は定義されていません。",
        "The {kind_en} '{code}' is not defined.",
        "The code has a valid shape but names no affair, procedure or info type the network "
        "knows (データ標準レイアウト).",
        "Look the code up in the catalogue (GET /v1/catalogue) and use a defined one.",
    ),
    # --- authentication ----------------------------------------------------------------------
    ErrorCode(
        "AUT001",
        Origin.ANY,
        Category.AUTHENTICATION,
        False,
        401,
        "機関の認証に失敗しました。",
        "The agency credential is missing or not valid.",
        "The Authorization header is absent, or carries a credential no agency holds.",
        "Send 'Authorization: Bearer <credential>' with the credential issued to the agency.",
    ),
    ErrorCode(
        "AUT002",
        Origin.HUB,
        Category.AUTHENTICATION,
        False,
        403,
        "認証された機関と要求元の機関コード「{claimed}」が一致しません。",
        "The request claims agency '{claimed}', but the credential belongs to another agency.",
        "An intermediate server sent a request on behalf of an agency other than its own.",
        "Send requests only in the name of the agency whose credential you hold.",
    ),
    ErrorCode(
        "AUT003",
        Origin.HUB,
        Category.AUTHENTICATION,
        False,
        401,
        "マイナンバーカードによる本人確認に失敗しました。",
        "The My Number card could not be verified.",
        "The card is not known to the hub, the challenge was not issued for this card, the "
        "signature does not verify with the card's public key (利用者証明用電子証明書), or the "
        "challenge has already opened a session (each opens one only).",
        "Ask for a new challenge (POST /v1/portal/challenge) and sign it with the card's key "
        "(ipnsim portal records --card FILE does both).",
    ),
    ErrorCode(
        "AUT004",
        Origin.HUB,
        Category.AUTHENTICATION,
        False,
        401,
        "本人確認のトークンがないか、正しくありません。",
        "The portal token is missing or not valid.",
        "The request to the person's portal carries no 'Authorization: Bearer <token>', or a "
        "token the hub did not issue (altered or forged), or one of a card no longer known.",
        "Log in with the card (POST /v1/portal/challenge, then POST /v1/portal/session) and "
        "send the token it returns.",
    ),
    ErrorCode(
        "AUT005",
        Origin.HUB,
        Category.AUTHENTICATION,
        False,
        401,
        "本人確認の有効期限が切れています。",
        "The portal token or login challenge has expired.",
        "Portal tokens last 15 minutes and challenges 5 minutes, by the network's (simulated) "
        "clock; moving the clock forward ends them too.",
        "Log in with the card again.",
    ),
    # --- agencies ------------------------------------------------------------------------------
    ErrorCode(
        "AGY001",
        Origin.HUB,
        Category.AGENCY,
        False,
        404,
        "指定された機関コード「{agency_code}」の機関は登録されていません。",
        "No agency with code '{agency_code}' is registered with the network.",
        "The agency code is mistyped, or the agency is not connected to this network.",
        "Look the agency up in the hub's registry (GET /v1/agencies) and use its code.",
    ),
    # --- identity and 符号 ---------------------------------------------------------------------
    ErrorCode(
        "IDN001",
        Origin.REQUESTER_SERVER,
        Category.IDENTITY,
        False,
        409,
        "指定された団体内統合宛名番号「{atena_number}」は符号が未取得です。",
        "No pseudonym (符号) has been obtained for atena number '{atena_number}'.",
        "The person is registered at this intermediate server but its 符号 was never "
        "obtained from the hub (符号取得).",
        "Obtain the 符号 (POST /v1/people/{atena_number}/pseudonym) and inquire again.",
    ),
    ErrorCode(
        "IDN002",
        Origin.REQUESTER_SERVER,
        Category.IDENTITY,
        False,
        404,
        "指定された団体内統合宛名番号「{atena_number}」は登録されていません。",
        "Atena number '{atena_number}' is not registered at this intermediate server.",
        "The business system never registered this person (団体内統合宛名番号の登録), "
        "or the number is mistyped.",
        "Register the person (POST /v1/people) or correct the atena number.",
    ),
    ErrorCode(
        "IDN003",
        Origin.HUB,
        Category.IDENTITY,
        False,
        404,
        "指定された符号は要求元の機関に対して発行されていません。",
        "The pseudonym given was not issued to the requesting agency.",
        "The intermediate server sent a 符号 the hub never issued to it, "
        "e.g. one copied from another agency.",
        "Obtain the 符号 for this person again through the hub.",
    ),
    ErrorCode(
        "IDN004",
        Origin.HUB,
        Category.IDENTITY,
        False,
        404,
        "情報提供者「{provider_code}」において対象者の符号が未取得です。",
        "The provider '{provider_code}' holds no pseudonym (符号) for this person.",
        "The provider never registered this person, so it can hold no replica for them.",
        "Check that the provider is the right one for this person (e.g. the municipality of "
        "residence on 1 January for local tax).",
    ),
    ErrorCode(
        "IDN005",
        Origin.REQUESTER_SERVER,
        Category.IDENTITY,
        False,
        409,
        "指定された団体内統合宛名番号「{atena_number}」は別の住民票コードで登録済みです。",
        "Atena number '{atena_number}' is already registered with another resident code.",
        "Two people were given the same atena number, or the resident code is mistyped.",
        "Check the atena number and the resident code against the resident registry.",
    ),
    ErrorCode(
        "IDN007",
        Origin.ANY,
        Category.IDENTITY,
        False,
        404,
        "指定された条件に該当する住民は存在しません。",
        "No resident matches the name, birth date, sex and address given.",
        "The resident-registry lookup (住基ネット照会) found nobody: the name or its reading "
        "(カナ) is misspelt, the birth date or sex is wrong, the address given does not begin "
        "the registered address, or the person is not registered (e.g. moved abroad).",
        "Check the application against the applicant's identity document, correct the name, "
        "reading, birth date or address, and look up again; give the address from the "
        "prefecture or the municipality onwards.",
    ),
    ErrorCode(
        "IDN008",
        Origin.ANY,
        Category.IDENTITY,
        False,
        409,
        "指定された条件に該当する住民が「{count}」件存在するため、対象者を特定できません。"
        "住所（番地まで）を指定して再度照会してください。",
        "{count} residents match the name, birth date and sex given, so no one person can be "
        "identified; give the address (or more of it) and look up again.",
        "The resident-registry lookup (住基ネット照会) found several people with the same name, "
        "birth date and sex (namesakes living in different places); it names none of them.",
        "Add the applicant's address as written on the application (at least the "
        "municipality) and look up again.",
    ),
    # --- permission ----------------------------------------------------------------------------
    ErrorCode(
        "PRM001",
        Origin.HUB,
        Category.PERMISSION,
        False,
        403,
        "指定された特定個人情報名「{info_type_code}」の照会は許可されていません。",
        "Inquiring about info type '{info_type_code}' is not permitted for this affair, "
        "procedure and provider.",
        "The legal permission table (番号法 別表) has no row for this requester kind, affair, "
        "procedure, info type and provider kind.",
        "Check the catalogue for what this procedure can obtain and from whom.",
    ),
    ErrorCode(
        "PRM002",
        Origin.HUB,
        Category.PERMISSION,
        False,
        422,
        "指定された事務手続「{procedure_code}」は事務「{affair_code}」に属しません。",
        "Procedure '{procedure_code}' does not belong to affair '{affair_code}'.",
        "The affair and procedure codes were taken from different rows of the catalogue.",
        "Use the affair code that the catalogue gives for this procedure.",
    ),
    # --- replicas ------------------------------------------------------------------------------
    ErrorCode(
        "RPL001",
        Origin.PROVIDER_SERVER,
        Category.REPLICA,
        False,
        404,
        "照会条件に該当する副本が存在しません。",
        "The provider holds no replica (副本) matching the inquiry's conditions.",
        "The provider has not registered this person's data for the info type, or not for the "
        "fiscal year or period asked, or it was deleted or is not yet published.",
        "Check the condition (fiscal year, period); if the data should exist, ask the provider "
        "to register its replica.",
    ),
    ErrorCode(
        "RPL002",
        Origin.REQUESTER_SERVER,
        Category.REPLICA,
        False,
        409,
        "「レコード識別番号」が既に存在しています。",
        "A replica with record id '{record_id}' already exists.",
        "The business system registered the same record id twice.",
        "Update the existing replica (PUT) or use a new record id.",
    ),
    ErrorCode(
        "RPL003",
        Origin.REQUESTER_SERVER,
        Category.REPLICA,
        False,
        404,
        "指定されたレコード識別番号「{record_id}」の副本は存在しません。",
        "No replica with record id '{record_id}' exists.",
        "The record id is mistyped, or the replica was never registered or already deleted.",
        "List the replicas (GET /v1/replicas) and use an existing record id.",
    ),
    ErrorCode(
        "RPL004",
        Origin.REQUESTER_SERVER,
        Category.REPLICA,
        False,
        422,
        "副本の項目がデータ標準レイアウトと一致しません。項目「{item}」：{problem}",
        "The replica's items do not match the standard layout: item '{item}': {problem}",
        "An item code that the info type's layout does not define, a missing item without a "
        "reason of null (未設定事由), or a value of the wrong type.",
        "Compare the items with the layout (GET /v1/catalogue/info-types/{info_type_code}).",
    ),
    ErrorCode(
        "RPL005",
        Origin.PROVIDER_SERVER,
        Category.REPLICA,
        False,
        404,
        "照会条件に該当する副本は情報提供者により削除されています。",
        "The replica (副本) matching the inquiry's conditions was deleted by the provider.",
        "The provider registered this person's data for the info type and condition, then "
        "deleted it (DELETE /v1/replicas/{record_id}); no live replica replaces it.",
        "Ask the provider whether the data was withdrawn on purpose or should be registered again.",
    ),
    ErrorCode(
        "RPL006",
        Origin.REQUESTER_SERVER,
        Category.REPLICA,
        False,
        422,
        "副本のデータ標準レイアウトの版「{given}」は現行の版「{current}」と一致しません。",
        "The replica follows layout version {given} of its info type; the current version is "
        "{current}.",
        "The business system builds its replicas on another revision of the standard layout "
        "(データ標準レイアウト) than the network's, typically after a layout revision.",
        "Build the replica on the current layout version (GET /v1/catalogue/info-types/"
        "{info_type_code}) and register it again.",
    ),
    ErrorCode(
        "RPL007",
        Origin.PROVIDER_SERVER,
        Category.REPLICA,
        False,
        404,
        "照会条件に該当する副本は公開期間「{publication_end}」を過ぎています。",
        "The replica (副本) matching the inquiry's conditions is past its publication period, "
        "which ended on {publication_end}.",
        "The provider registered the data with a publication end date that has passed and "
        "registered no newer replica: the data is stale and no longer provided.",
        "Ask the provider to register its current data; ask for another fiscal year or period "
        "if older data is what you need.",
    ),
    ErrorCode(
        "RPL010",
        Origin.PROVIDER_SERVER,
        Category.REPLICA,
        True,
        404,
        "課税年度「{fiscal_year}」の地方税関係情報は「{release_date}」まで公開されません。",
        "Local-tax information for fiscal year {fiscal_year} is not released until {release_date}.",
        "Municipalities assess the year's inhabitant tax in spring and release the fiscal "
        "year's local-tax information in June (by default 1 June, Japan time; each provider's "
        "IPNSIM_AGENCY_LOCAL_TAX_RELEASE). The inquiry asked for the fiscal year before its "
        "release date at the provider.",
        "Ask again on or after the release date, or ask for the previous fiscal year if that is "
        "what the procedure needs.",
    ),
    # --- availability --------------------------------------------------------------------------
    ErrorCode(
        "AVL001",
        Origin.HUB,
        Category.AVAILABILITY,
        True,
        502,
        "情報提供者「{provider_code}」の中間サーバーに接続できません。",
        "The provider's intermediate server '{provider_code}' cannot be reached.",
        "The provider's intermediate server is down or refuses connections.",
        "Retry later; if the failure persists, contact the provider.",
    ),
    ErrorCode(
        "AVL002",
        Origin.HUB,
        Category.AVAILABILITY,
        True,
        504,
        "情報提供者「{provider_code}」の中間サーバーから制限時間「{timeout}」秒以内に応答がありません。",
        "The provider's intermediate server '{provider_code}' did not answer within "
        "{timeout} seconds.",
        "The provider's intermediate server is overloaded or hanging.",
        "Retry later; if the failure persists, contact the provider.",
    ),
    ErrorCode(
        "AVL003",
        Origin.REQUESTER_SERVER,
        Category.AVAILABILITY,
        True,
        502,
        "情報提供ネットワークシステムに接続できません。",
        "The hub (information-provision network system) cannot be reached.",
        "The hub is down, or the intermediate server's hub URL is wrong.",
        "Retry later; check the intermediate server's hub URL setting.",
    ),
    ErrorCode(
        "AVL004",
        Origin.REQUESTER_SERVER,
        Category.AVAILABILITY,
        True,
        504,
        "情報提供ネットワークシステムから制限時間「{timeout}」秒以内に応答がありません。",
        "The hub did not answer within {timeout} seconds.",
        "The hub is overloaded or hanging.",
        "Retry later.",
    ),
    ErrorCode(
        "AVL005",
        Origin.HUB,
        Category.AVAILABILITY,
        True,
        502,
        "情報提供者「{provider_code}」の中間サーバーから不正な応答を受信しました。",
        "The provider's intermediate server '{provider_code}' sent a malformed answer.",
        "The provider's intermediate server answered with something that is not the "
        "network's wire protocol (wrong version, proxy error page).",
        "Contact the provider; the hub's log names the problem.",
    ),
    ErrorCode(
        "AVL006",
        Origin.HUB,
        Category.AVAILABILITY,
        True,
        503,
        "情報提供者「{provider_code}」の中間サーバーは保守中又はオンライン時間外です。"
        "オンライン時間は「{online_hours}」です。",
        "The provider's intermediate server '{provider_code}' is in maintenance or outside its "
        "online hours ({online_hours} JST).",
        "The provider's intermediate server answers only during its online hours (オンライン時間) "
        "and not during maintenance.",
        "Send the inquiry again within the provider's online hours.",
    ),
    ErrorCode(
        "AVL007",
        Origin.HUB,
        Category.AVAILABILITY,
        True,
        503,
        "情報提供ネットワークシステムが混雑しています。同時に処理できる照会の上限「{limit}」件を"
        "超えたため、照会を受け付けられません。",
        "The hub is overloaded: more than {limit} inquiries are in flight; the inquiry was not "
        "routed.",
        "The hub refuses an inquiry at once, without routing it, while its configured number "
        "of inquiries in flight (IPNSIM_HUB_MAX_INQUIRIES_IN_FLIGHT) are being handled.",
        "Retry after the seconds given by the Retry-After header; spread bulk inquiries out.",
    ),
    # --- records -------------------------------------------------------------------------------
    ErrorCode(
        "REC001",
        Origin.ANY,
        Category.RECORDS,
        False,
        404,
        "指定された照会番号「{inquiry_id}」の情報提供等の記録は存在しません。",
        "No provision record exists for inquiry '{inquiry_id}'.",
        "The inquiry id is mistyped, or the inquiry was made at another intermediate server.",
        "List the records (GET /v1/records) and use an existing inquiry id.",
    ),
    ErrorCode(
        "REC002",
        Origin.HUB,
        Category.RECORDS,
        False,
        403,
        "照会番号「{inquiry_id}」の照会は要求元の機関が行ったものではありません。",
        "Inquiry '{inquiry_id}' was not made by the requesting agency.",
        "Only the requester of an inquiry may declare it a mistaken-person inquiry (追記).",
        "Ask the agency that made the inquiry to declare it.",
    ),
    ErrorCode(
        "REC003",
        Origin.REQUESTER_SERVER,
        Category.RECORDS,
        False,
        409,
        "照会番号「{inquiry_id}」の照会は情報提供ネットワークシステムに到達していません。",
        "Inquiry '{inquiry_id}' never reached the hub, so there is nothing to annotate there.",
        "The inquiry failed at the requester's own intermediate server (e.g. 符号 not "
        "obtained); no provider or hub record exists.",
        "No addendum is needed: no information about anyone was exchanged.",
    ),
    ErrorCode(
        "REC004",
        Origin.HUB,
        Category.RECORDS,
        False,
        409,
        "照会番号「{inquiry_id}」は既に使用されています。",
        "Inquiry id '{inquiry_id}' has already been used.",
        "An intermediate server sent two inquiries with the same id.",
        "Give every inquiry a new id (a random UUID).",
    ),
    ErrorCode(
        "REC005",
        Origin.HUB,
        Category.RECORDS,
        False,
        409,
        "照会番号「{inquiry_id}」の照会は既に誤照会として追記されています。",
        "Inquiry '{inquiry_id}' has already been declared a mistaken-person inquiry.",
        "A mistaken-person addendum (追記) with another reason or by another user was already "
        "appended to this inquiry's records; an inquiry carries one. (The same declaration "
        "sent again is not refused: it returns the addendum already appended.)",
        "Nothing to do: read the record (GET /v1/records/{inquiry_id}) to see the addendum.",
    ),
    # --- manual response (自動応答不可): staff at the provider answer, not the server -----------
    ErrorCode(
        "MAN001",
        Origin.PROVIDER_SERVER,
        Category.MANUAL_RESPONSE,
        False,
        202,
        "自動応答不可のため、情報提供者の職員による回答待ちです。",
        "The replica may not be answered automatically: the inquiry waits for the provider's "
        "staff.",
        "The provider flagged the person's replica as not to be answered automatically "
        "(自動応答不可, e.g. a DV-support case); staff at the provider decide.",
        "Do not send the inquiry again: read the final result later with "
        "GET /v1/inquiries/<inquiry id> (answered, declined or expired).",
    ),
    ErrorCode(
        "MAN002",
        Origin.PROVIDER_SERVER,
        Category.MANUAL_RESPONSE,
        False,
        403,
        "情報提供者の職員により情報提供が行われませんでした。理由：「{reason}」",
        "The provider's staff declined to provide the information. Reason: {reason}",
        "Staff at the provider reviewed the inquiry of a replica flagged 自動応答不可 and "
        "declined it.",
        "Obtain the information another way (e.g. ask the person for a certificate) or contact "
        "the provider about the reason.",
    ),
    ErrorCode(
        "MAN003",
        Origin.PROVIDER_SERVER,
        Category.MANUAL_RESPONSE,
        False,
        504,
        "情報提供者の職員による回答が期限「{deadline}」までに行われませんでした。",
        "The provider's staff did not answer by the deadline {deadline}.",
        "An inquiry of a replica flagged 自動応答不可 waited for the provider's staff longer "
        "than the provider's server allows.",
        "Contact the provider, then send a new inquiry.",
    ),
    ErrorCode(
        "MAN004",
        Origin.PROVIDER_SERVER,
        Category.MANUAL_RESPONSE,
        False,
        409,
        "照会番号「{inquiry_id}」の照会は職員による回答待ちではありません。",
        "Inquiry '{inquiry_id}' is not waiting for an answer from staff.",
        "The inquiry was already answered, declined or expired, or it was answered automatically.",
        "List the pending inquiries (GET /v1/manual-responses) and pick one of them.",
    ),
    ErrorCode(
        "MAN005",
        Origin.HUB,
        Category.MANUAL_RESPONSE,
        True,
        502,
        "情報照会者「{requester_code}」の中間サーバーに最終結果を送信できません。",
        "The final result cannot be delivered to the requester's intermediate server "
        "'{requester_code}'.",
        "The requester's intermediate server is down or refuses the hub's delivery.",
        "Nothing to do: the provider's intermediate server sends the final answer again until "
        "the requester has it.",
    ),
    # --- idempotency: a request repeated under the same Idempotency-Key ------------------------
    ErrorCode(
        "IDM001",
        Origin.REQUESTER_SERVER,
        Category.IDEMPOTENCY,
        False,
        422,
        "冪等キー「{key}」は別の内容の照会に使用済みです。",
        "The Idempotency-Key '{key}' was already used for an inquiry with other content.",
        "The business system reused a key for a different inquiry (another person, procedure, "
        "provider or condition); a key names one inquiry for good.",
        "Send a new key for a new inquiry; repeat a key only to retry exactly the same inquiry.",
    ),
    ErrorCode(
        "IDM002",
        Origin.REQUESTER_SERVER,
        Category.IDEMPOTENCY,
        True,
        409,
        "冪等キー「{key}」の照会は処理中です。しばらくしてから再度送信してください。",
        "The inquiry with Idempotency-Key '{key}' is still in flight; it was not sent again.",
        "A retry arrived while the first request with this key was still waiting for its "
        "answer (a client timeout shorter than the network's, or a double submission).",
        "Retry after the seconds given by the Retry-After header: the retry then returns the "
        "first request's answer.",
    ),
    # --- batch inquiries (一括照会): request files and jobs -----------------------------------
    ErrorCode(
        "BAT001",
        Origin.REQUESTER_SERVER,
        Category.BATCH,
        False,
        422,
        "ファイル「{file}」の文字コードを判別できません。",
        "The file '{file}' is not text of an accepted encoding (UTF-8 or Shift_JIS).",
        "The request file is neither UTF-8 nor Shift_JIS (CP932), or is not text of the "
        "encoding named for it; a fixed-width field may also cut a multi-byte character.",
        "Save the file as UTF-8 or Shift_JIS (CP932) and send it again; every problem is "
        "listed in 'details'.",
    ),
    ErrorCode(
        "BAT002",
        Origin.REQUESTER_SERVER,
        Category.BATCH,
        False,
        422,
        "ファイル「{file}」の件数「{rows}」が上限「{limit}」件を超えています。",
        "The file '{file}' has {rows} rows; at most {limit} are allowed.",
        "A request file carries at most 10,000 rows.",
        "Split the rows into several files and send them in one job.",
    ),
    ErrorCode(
        "BAT003",
        Origin.REQUESTER_SERVER,
        Category.BATCH,
        False,
        422,
        "ファイル「{file}」の「{line}」行目のレコード形式に誤りがあります。{problem}",
        "Line {line} of the file '{file}' has the wrong layout: {problem}",
        "A fixed-width row is not 220 bytes, a CSV row has not 18 fields, a row ends with LF "
        "instead of CRLF, or a row is empty; every problem is listed in 'details'.",
        "Write every row with the 18 fields of the request layout and CRLF line ends, then send "
        "the file again (ipnsim validate batch FILE checks it offline).",
    ),
    ErrorCode(
        "BAT004",
        Origin.REQUESTER_SERVER,
        Category.BATCH,
        False,
        422,
        "ファイル「{file}」の「{line}」行目の項目「{field}」に誤りがあります。{problem}",
        "Line {line} of the file '{file}', field {field}: {problem}",
        "A field of a row has a value the request layout does not allow (codes, dates, agency "
        "codes, the condition fields); every problem is listed in 'details'.",
        "Correct the fields named in 'details' and send the file again "
        "(ipnsim validate batch FILE checks it offline).",
    ),
    ErrorCode(
        "BAT005",
        Origin.REQUESTER_SERVER,
        Category.BATCH,
        False,
        422,
        "ファイル「{file}」に照会依頼がありません。",
        "The file '{file}' has no rows.",
        "The request file is empty.",
        "Send a file with at least one row.",
    ),
    ErrorCode(
        "BAT006",
        Origin.REQUESTER_SERVER,
        Category.BATCH,
        False,
        404,
        "指定された一括照会「{job_id}」は存在しません。",
        "There is no batch job '{job_id}' at this intermediate server.",
        "The job id is mistyped, or the job was created at another agency's server.",
        "List the jobs (GET /v1/batch-jobs) and use the id of one of them.",
    ),
    ErrorCode(
        "BAT007",
        Origin.REQUESTER_SERVER,
        Category.BATCH,
        True,
        409,
        "一括照会「{job_id}」は処理が完了していません。状態：「{state}」",
        "The batch job '{job_id}' has not finished (state: {state}).",
        "Results were asked for before every row of the job was inquired.",
        "Wait until the job's state is 'completed' (GET /v1/batch-jobs/<job id>), then ask again.",
    ),
    ErrorCode(
        "BAT008",
        Origin.REQUESTER_SERVER,
        Category.BATCH,
        False,
        409,
        "一括照会「{job_id}」は状態「{state}」のため、{action_ja}できません。",
        "The batch job '{job_id}' is {state}: {action_en} is not possible now.",
        "Files can be added only before the job starts, a job starts once and needs at least "
        "one file, and a file name is given once per job.",
        "Create a new job for new files; check the job's state with GET /v1/batch-jobs/<job id>.",
    ),
    ErrorCode(
        "BAT009",
        Origin.REQUESTER_SERVER,
        Category.BATCH,
        False,
        404,
        "一括照会「{job_id}」にファイル「{file}」は登録されていません。",
        "The batch job '{job_id}' has no file '{file}'.",
        "The file name is mistyped, or the file was refused when it was sent.",
        "Read the job (GET /v1/batch-jobs/<job id>) for the names of its files.",
    ),
    # --- sandboxes -----------------------------------------------------------------------------
    ErrorCode(
        "SBX001",
        Origin.ANY,
        Category.SANDBOX,
        False,
        422,
        "サンドボックスキー「{key}」が不正です。",
        "The sandbox key '{key}' is invalid.",
        "The X-Ipnsim-Sandbox header (or the key in the path) is not 1 to 32 lower-case "
        "letters, digits and '-' starting with a letter or digit.",
        "Use a key such as 'ci-1234' or 'worker-gw0'.",
    ),
    ErrorCode(
        "SBX002",
        Origin.ANY,
        Category.SANDBOX,
        False,
        409,
        "サンドボックス数が上限「{limit}」に達しているため、「{key}」を作成できません。",
        "The sandbox '{key}' cannot be created: the service already keeps its limit of "
        "{limit} sandboxes.",
        "Every sandbox used since it was last deleted is kept, and the service keeps a bounded "
        "number of them.",
        "Delete sandboxes no longer needed (DELETE /v1/sandboxes/<key>, or 'ipnsim sandbox "
        "delete'), then retry.",
    ),
    # --- internal ------------------------------------------------------------------------------
    ErrorCode(
        "SYS001",
        Origin.ANY,
        Category.INTERNAL,
        True,
        500,
        "システム内部でエラーが発生しました。",
        "An internal error occurred.",
        "A defect in the service; its log names the failure by the request id.",
        "Retry; if it persists, report it with the request id from the service log.",
    ),
)

CATALOGUE: dict[str, ErrorCode] = {entry.code: entry for entry in _CODES}
"""Every error-classification code, by code."""


def lookup(code: str) -> ErrorCode:
    """Return the catalogue entry for ``code``; KeyError if the code is unknown."""
    return CATALOGUE[code]
