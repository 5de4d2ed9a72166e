"""Scenario files (シナリオ): YAML descriptions of steps against a running network, with
expectations, checked step by step. The schema is documented in docs/scenarios.md.

A scenario file holds one scenario: a name, a description and a list of steps. Each step does
one thing (register, set a fault, inquire, fan out, declare a mistaken inquiry, list records …)
and may carry an ``expect`` block; the runner compares what happened with it and reports every
difference as expected/actual.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from intermediate_server.schemas import (
    FanOutOrder,
    InquiryOrder,
    LagMode,
    ManualAnswer,
    ManualDecline,
    MistakenDeclaration,
    PersonRegistration,
    RegistrationLag,
    ReplicaContent,
    ReplicaRegistration,
)
from ipnsim.client import HubOperatorClient, Inherit, ServiceError, ServiceUnreachable
from ipnsim.launcher import NetworkFile
from ipnsim.manual_commands import StaffClient
from network.protocol.models import (
    FORCE_OUTCOME_HEADER,
    FanOutResult,
    FanOutScope,
    FaultSettings,
    InquiryResult,
    PersonaCatalogue,
    PersonaInquiry,
    ProvisionRecord,
)

# --- the schema ------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RecordExpectation(_Strict):
    """What the listed provision records (提供等記録) must be."""

    count: int | None = Field(default=None, ge=0, description="How many records are listed.")
    fields: dict[str, Any] = Field(
        default_factory=dict, description="Fields every record must have (subset match)."
    )
    addenda: int | None = Field(
        default=None, ge=0, description="How many addenda (追記) every record carries."
    )


class ProviderExpectation(_Strict):
    """What one provider's result of a fan-out must be."""

    status: str | None = Field(default=None, pattern=r"^[0-9]{2}/[0-9]{2}$")
    error: str | None = None


class Expectation(_Strict):
    """What a step must produce; only the keys given are checked.

    ``error: null`` demands no error; a missing ``error`` key checks nothing.
    """

    status: str | None = Field(
        default=None,
        pattern=r"^[0-9]{2}/[0-9]{2}$",
        description="照会ステータス 明細単位/特定個人情報名単位, e.g. 09/01.",
    )
    error: str | None = Field(default=None, description="Error code, or null for none.")
    items: dict[str, str | None] = Field(
        default_factory=dict, description="Item code → value, a subset of the answer's items."
    )
    results: int | None = Field(default=None, ge=0, description="Results of a fan-out.")
    by_provider: dict[str, ProviderExpectation] = Field(
        default_factory=dict,
        description="Agency slug or code → what the fan-out's result from it must be.",
    )
    records: RecordExpectation | None = None
    same_inquiry_as: str | None = Field(
        default=None, description="The inquiry id equals that of this earlier step."
    )


class PersonRef(_Strict):
    """Who: a persona of the population, or an atena number."""

    persona: str | None = None
    atena: str | None = None


class InquireStep(PersonRef):
    """情報照会 from ``from`` to ``to``. Given only ``persona``, the persona's own inquiry."""

    requester: str | None = Field(default=None, alias="from")
    provider: str | None = Field(default=None, alias="to")
    procedure: str | None = None
    info_type: str | None = None
    fiscal_year: int | Literal["persona"] | None = None
    idempotency_key: str | None = None
    force_outcome: str | None = None

    @model_validator(mode="after")
    def _who(self) -> InquireStep:
        if self.persona is None and self.atena is None:
            raise ValueError("name the person: give persona or atena")
        if self.persona is None and None in (self.requester, self.procedure):
            raise ValueError("without a persona, give from and procedure")
        if self.persona is None and self.provider is None and type(self) is InquireStep:
            raise ValueError("without a persona, give to (the provider)")
        return self


class FanOutStep(InquireStep):
    """一括照会先指定: by ``scope`` (permitted/holding) or ``providers``."""

    scope: FanOutScope | None = None
    providers: list[str] | None = None

    @model_validator(mode="after")
    def _one_way(self) -> FanOutStep:
        if (self.scope is None) == (self.providers is None):
            raise ValueError("give exactly one of scope or providers")
        return self


class _AtAgency(_Strict):
    """A step done at one agency (its slug or code)."""

    agency: str


class _NamesInquiry(_Strict):
    """A step about the inquiry an earlier step made."""

    inquiry: str = Field(description="Name of the earlier inquire step.")


class _AboutInquiry(_NamesInquiry, _AtAgency):
    """A step about the inquiry an earlier step made, at ``agency``."""


class _PersonAtAgency(_AtAgency, PersonRef):
    """A step at ``agency`` about a person or, with ``inquiry``, an earlier step's inquiry."""

    inquiry: str | None = Field(default=None, description="Name of the earlier inquire step.")


class _ReplicaFields(_AtAgency):
    """The content of a replica (副本) at ``agency``: what registering and updating give."""

    record_id: str
    layout_version: int = 1
    fiscal_year: int | None = None
    publication_start: dt.date
    publication_end: dt.date | None = None
    manual_response: bool = False
    items: dict[str, str | None] = Field(min_length=1)


class MistakenStep(_NamesInquiry):
    """誤照会の申出 about the inquiry of an earlier step."""

    reason: str
    user: str = "scenario"


class RecordsStep(_PersonAtAgency):
    """List an agency's provision records: by the inquiry of an earlier step, or by person."""


class DisclosureStep(_PersonAtAgency):
    """The person's disclosure view (マイナポータル) at an agency; with ``inquiry``, only the
    record of that earlier step's inquiry."""


class RegisterPersonStep(_AtAgency, PersonRef):
    """団体内統合宛名番号の登録 at ``agency``."""

    resident_code: str
    acquire_pseudonym: bool = True


class RegisterReplicaStep(_ReplicaFields, PersonRef):
    """副本登録 at ``agency``."""

    info_type: str


class UpdateReplicaStep(_ReplicaFields):
    """副本更新 at ``agency``: the replica's new content (queued under a registration lag)."""


class RegistrationLagStep(_AtAgency):
    """登録遅延 at ``agency``: ``delay`` seconds, the ``nightly`` batch at an hour (JST), or
    ``lift: true`` (no lag)."""

    delay: float | None = Field(default=None, gt=0)
    nightly: int | None = Field(default=None, ge=0, le=23)
    lift: bool = False

    @model_validator(mode="after")
    def _one(self) -> RegistrationLagStep:
        if sum((self.delay is not None, self.nightly is not None, self.lift)) != 1:
            raise ValueError("give exactly one of delay, nightly and lift")
        return self


class ClockStep(_Strict):
    """The network's simulated clock: ``set`` it to a time, ``advance`` it by seconds, or
    ``reset`` it to the real time."""

    set: dt.datetime | None = None
    advance: float | None = None
    reset: bool = False

    @model_validator(mode="after")
    def _one(self) -> ClockStep:
        if sum((self.set is not None, self.advance is not None, self.reset)) != 1:
            raise ValueError("give exactly one of set, advance and reset")
        if self.set is not None and self.set.tzinfo is None:
            raise ValueError("set needs a UTC offset, e.g. 2033-12-01T00:00:00+09:00")
        return self


class FaultStep(FaultSettings):
    """Put a fault in force at the hub for ``agency`` (the fault fields of ipnsim fault)."""

    agency: str


class ClearFaultsStep(_Strict):
    """Lift one agency's fault, or every fault."""

    agency: str | None = None


class ManualStep(_AboutInquiry):
    """The provider's staff answer or decline an inquiry held for them (自動応答不可)."""

    decline: str | None = Field(default=None, description="Decline with this reason.")
    user: str = "staff"


class InquiryResultStep(_AboutInquiry):
    """The requester reads the final result of an inquiry that waited for staff."""


STEP_KINDS = (
    "register_person",
    "register_replica",
    "update_replica",
    "registration_lag",
    "clock",
    "set_fault",
    "clear_faults",
    "inquire",
    "fan_out",
    "declare_mistaken",
    "records",
    "disclosure",
    "manual_response",
    "inquiry_result",
)


class Step(_Strict):
    """One step: a name, exactly one action, and optionally what it must produce."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    register_person: RegisterPersonStep | None = None
    register_replica: RegisterReplicaStep | None = None
    update_replica: UpdateReplicaStep | None = None
    registration_lag: RegistrationLagStep | None = None
    clock: ClockStep | None = None
    set_fault: FaultStep | None = None
    clear_faults: ClearFaultsStep | None = None
    inquire: InquireStep | None = None
    fan_out: FanOutStep | None = None
    declare_mistaken: MistakenStep | None = None
    records: RecordsStep | None = None
    disclosure: DisclosureStep | None = None
    manual_response: ManualStep | None = None
    inquiry_result: InquiryResultStep | None = None
    expect: Expectation | None = None

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        given = [kind for kind in STEP_KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a step does exactly one of {', '.join(STEP_KINDS)} (given: {', '.join(given) or 'none'})"
            )
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in STEP_KINDS if getattr(self, kind) is not None)

    @property
    def action(self) -> BaseModel:
        action: BaseModel = getattr(self, self.kind)
        return action


class Scenario(_Strict):
    """A scenario file: what it shows, and its steps in order."""

    name: str
    description: str = ""
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        seen: set[str] = set()
        for step in self.steps:
            if step.name in seen:
                raise ValueError(f"two steps are named {step.name!r}")
            for ref in _references(step):
                if ref not in seen:
                    raise ValueError(
                        f"step {step.name!r} refers to {ref!r}, which is not an earlier step"
                    )
            seen.add(step.name)
        return self


def _references(step: Step) -> list[str]:
    refs: list[str] = []
    action = step.action
    inquiry = getattr(action, "inquiry", None)
    if isinstance(inquiry, str):
        refs.append(inquiry)
    if step.expect is not None and step.expect.same_inquiry_as is not None:
        refs.append(step.expect.same_inquiry_as)
    return refs


# --- loading, with locations -----------------------------------------------------------------


class ScenarioError(ValueError):
    """A scenario file is not valid; the message names the file, line and problem."""


def _line_map(node: yaml.Node, path: tuple[str | int, ...], lines: dict[Any, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines[(*path, key.value)] = key.start_mark.line + 1
            _line_map(value, (*path, key.value), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_map(item, (*path, index), lines)


def load_scenario(path: Path) -> Scenario:
    """Read and check one scenario file; ScenarioError says where and what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_scenario(text, str(path))


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"{source}{where}: not valid YAML: {problem}") from None
    if not isinstance(data, dict) or node is None:
        raise ScenarioError(f"{source}: a scenario file is a mapping with name and steps")
    lines: dict[Any, int] = {}
    _line_map(node, (), lines)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if not _is_model_name(p))
            line = _nearest_line(loc, lines)
            where = ".".join(str(p) for p in loc) or "scenario"
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{source}:{line}: {where}: {message}")
        raise ScenarioError("\n".join(problems)) from None


def _is_model_name(part: Any) -> bool:
    return isinstance(part, str) and part[:1].isupper()


def _nearest_line(loc: tuple[Any, ...], lines: dict[Any, int]) -> int:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def scenario_paths(paths: Sequence[Path]) -> list[Path]:
    """The files named, and the ``*.yaml``/``*.yml`` files of the directories named, sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted([*path.rglob("*.yaml"), *path.rglob("*.yml")]))
        else:
            found.append(path)
    return found


# --- running ---------------------------------------------------------------------------------


@dataclass
class StepOutcome:
    """What one step did: passed or not, the differences, how long it took."""

    name: str
    kind: str
    seconds: float
    differences: list[str] = field(default_factory=list)
    error: str | None = None
    summary: str = ""

    @property
    def passed(self) -> bool:
        return not self.differences and self.error is None


@dataclass
class ScenarioOutcome:
    path: Path
    name: str
    steps: list[StepOutcome] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(step.passed for step in self.steps)


class ScenarioClient(StaffClient):
    """An intermediate server as a scenario uses it: inquiries with a forced outcome too."""

    async def inquire_as_told(
        self, order: InquiryOrder, idempotency_key: str | None, force_outcome: str | None
    ) -> InquiryResult:
        headers = {}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        if force_outcome:
            headers[FORCE_OUTCOME_HEADER] = force_outcome
        result: InquiryResult = await self._call(
            "POST", "/v1/inquiries", InquiryResult, order, headers=headers
        )
        return result

    async def fan_out_as_told(self, order: FanOutOrder, force_outcome: str | None) -> FanOutResult:
        headers = {FORCE_OUTCOME_HEADER: force_outcome} if force_outcome else {}
        result: FanOutResult = await self._call(
            "POST", "/v1/inquiries/fan-out", FanOutResult, order, headers=headers
        )
        return result


class StepFailed(Exception):
    """A step could not be carried out as written (bad reference, unknown persona …)."""


_VARIABLE = re.compile(r"\$\{run\}")


class ScenarioRunner:
    """Runs scenarios against the network of ``network.json``, step by step."""

    def __init__(
        self,
        network: NetworkFile,
        on_step: Callable[[StepOutcome], None] | None = None,
        sandbox: str | Inherit | None = Inherit.SANDBOX,
    ) -> None:
        """``sandbox``: run every step in this sandbox (X-Ipnsim-Sandbox); by default, the one
        the command line chose (``--sandbox``), else the default database."""
        self.network = network
        self.on_step = on_step
        self.sandbox = sandbox
        self._personas: PersonaCatalogue | None = None
        self._population: Any = None

    def hub(self) -> HubOperatorClient:
        return HubOperatorClient(
            self.network.hub.url, self.network.admin_token, sandbox=self.sandbox
        )

    def agency(self, slug: str) -> ScenarioClient:
        try:
            return ScenarioClient(self.network.agency(slug).url, sandbox=self.sandbox)
        except KeyError as error:
            raise StepFailed(str(error.args[0])) from None

    def code(self, slug_or_code: str) -> str:
        if re.fullmatch(r"[0-9]{16}", slug_or_code):
            return slug_or_code
        try:
            code = self.network.agency(slug_or_code).agency_code
        except KeyError as error:
            raise StepFailed(str(error.args[0])) from None
        assert code is not None
        return code

    async def persona_inquiry(self, name: str) -> PersonaInquiry:
        if self._personas is None:
            async with self.hub() as hub:
                self._personas = await hub.personas()
        for persona in self._personas.personas:
            if persona.name == name:
                if persona.inquiry is None:
                    raise StepFailed(f"persona {name!r} has no inquiry of its own")
                return persona.inquiry
        names = ", ".join(p.name for p in self._personas.personas)
        raise StepFailed(f"no persona {name!r} (personas: {names})")

    def atena(self, slug: str, who: PersonRef, run_token: str) -> str:
        if who.atena is not None:
            return substitute(who.atena, run_token)
        if who.persona is None:
            raise StepFailed("name the person: give persona or atena")
        if self._population is None:
            from agencies.population import persona_population

            self._population = persona_population(seed=self.network.seed)
        try:
            person = self._population.persona(who.persona)
            return str(self._population.atena_number(slug, person.person_key))
        except KeyError:
            raise StepFailed(f"persona {who.persona!r} is not registered at {slug}") from None

    async def run(self, path: Path, scenario: Scenario) -> ScenarioOutcome:
        outcome = ScenarioOutcome(path, scenario.name)
        context = RunContext(run_token=f"{random.randrange(10**6):06d}")
        for step in scenario.steps:
            started = time.monotonic()
            result = StepOutcome(step.name, step.kind, 0.0)
            try:
                actual = await self._do(step, context)
                result.summary = actual.summary()
                if step.expect is not None:
                    result.differences = compare(step.expect, actual, context, self.code)
                elif actual.error is not None:
                    result.differences = [f"the service refused the step: {actual.summary()}"]
            except (StepFailed, ServiceUnreachable) as error:
                result.error = str(error)
            result.seconds = time.monotonic() - started
            outcome.steps.append(result)
            if self.on_step is not None:
                self.on_step(result)
        return outcome

    async def _do(self, step: Step, context: RunContext) -> Actual:
        try:
            actual = await self._act(step, context)
        except ServiceError as error:
            actual = Actual(
                http_status=error.status, error=error.body.code, text=error.body.message_en
            )
        if step.name:
            context.actuals[step.name] = actual
        return actual

    async def _act(self, step: Step, context: RunContext) -> Actual:
        run_token = context.run_token
        action = step.action
        if isinstance(action, FanOutStep):
            order, requester = await self._order(action, run_token)
            fan_order = FanOutOrder(
                **order.model_dump(exclude={"provider_code"}),
                scope=action.scope,
                provider_codes=[self.code(p) for p in action.providers]
                if action.providers
                else None,
            )
            async with self.agency(requester) as client:
                fanned = await client.fan_out_as_told(fan_order, action.force_outcome)
            return Actual(results=fanned.results)
        if isinstance(action, InquireStep):
            order, requester = await self._order(action, run_token)
            key = substitute(action.idempotency_key, run_token) if action.idempotency_key else None
            async with self.agency(requester) as client:
                answered = await client.inquire_as_told(order, key, action.force_outcome)
            context.requesters[step.name] = requester
            return Actual(result=answered)
        if isinstance(action, MistakenStep):
            inquiry_id = context.inquiry_id(action.inquiry)
            asked_from = context.requesters.get(action.inquiry)
            if asked_from is None:
                raise StepFailed(f"step {action.inquiry!r} is not an inquire step")
            async with self.agency(asked_from) as client:
                addendum = await client.declare_mistaken(
                    inquiry_id,
                    _build(
                        lambda: MistakenDeclaration(
                            reason=action.reason, declared_by_user=action.user
                        )
                    ),
                )
            return Actual(text=f"addendum {addendum.addendum_id}")
        if isinstance(action, RecordsStep):
            async with self.agency(action.agency) as client:
                if action.inquiry is not None:
                    records = await client.records(inquiry_id=context.inquiry_id(action.inquiry))
                else:
                    records = await client.records(
                        atena_number=self.atena(action.agency, action, run_token)
                    )
            return Actual(records=records)
        if isinstance(action, DisclosureStep):
            atena = self.atena(action.agency, action, run_token)
            async with self.agency(action.agency) as client:
                view = await client.disclosure(atena)
            shown = view.records
            if action.inquiry is not None:
                wanted = context.inquiry_id(action.inquiry)
                shown = [record for record in shown if record.inquiry_id == wanted]
            return Actual(records=shown)
        if isinstance(action, RegisterPersonStep):
            registration = _build(
                lambda: PersonRegistration(
                    atena_number=self.atena(action.agency, action, run_token),
                    resident_code=substitute(action.resident_code, run_token),
                    acquire_pseudonym=action.acquire_pseudonym,
                )
            )
            async with self.agency(action.agency) as client:
                person = await client.register_person(registration)
            return Actual(text=f"registered {person.atena_number}")
        if isinstance(action, RegisterReplicaStep):
            replica = _build(
                lambda: ReplicaRegistration(
                    record_id=substitute(action.record_id, run_token),
                    atena_number=self.atena(action.agency, action, run_token),
                    info_type_code=action.info_type,
                    layout_version=action.layout_version,
                    fiscal_year=action.fiscal_year,
                    publication_start=action.publication_start,
                    publication_end=action.publication_end,
                    manual_response=action.manual_response,
                    items=[
                        {"code": code, "value": value}
                        if value is not None
                        else {"code": code, "reason_of_null": "1"}
                        for code, value in action.items.items()
                    ],
                )
            )
            async with self.agency(action.agency) as client:
                registered = await client.register_replica(replica)
            return Actual(text=f"replica {registered.record_id}")
        if isinstance(action, UpdateReplicaStep):
            content = _build(
                lambda: ReplicaContent(
                    layout_version=action.layout_version,
                    fiscal_year=action.fiscal_year,
                    publication_start=action.publication_start,
                    publication_end=action.publication_end,
                    manual_response=action.manual_response,
                    items=[
                        {"code": code, "value": value}
                        if value is not None
                        else {"code": code, "reason_of_null": "1"}
                        for code, value in action.items.items()
                    ],
                )
            )
            record_id = substitute(action.record_id, run_token)
            async with self.agency(action.agency) as client:
                updated = await client.update_replica(record_id, content)
            if updated.pending_until is not None:
                return Actual(text=f"replica {record_id} live at {updated.pending_until:%H:%M:%S}Z")
            return Actual(text=f"replica {record_id} updated")
        if isinstance(action, RegistrationLagStep):
            if action.delay is not None:
                lag = RegistrationLag(mode=LagMode.DELAY, delay_seconds=action.delay)
            elif action.nightly is not None:
                lag = RegistrationLag(mode=LagMode.NIGHTLY, nightly_hour=action.nightly)
            else:
                lag = RegistrationLag()
            async with self.agency(action.agency) as client:
                await client.set_registration_lag(lag)
            return Actual(text=f"registration lag at {action.agency}: {lag.mode.value}")
        if isinstance(action, ClockStep):
            return Actual(text=await self._move_clock(action))
        if isinstance(action, FaultStep):
            settings = FaultSettings.model_validate(action.model_dump(exclude={"agency"}))
            async with self.hub() as hub:
                await hub.set_fault(self.code(action.agency), settings)
            return Actual(text=f"fault at {action.agency}")
        if isinstance(action, ClearFaultsStep):
            async with self.hub() as hub:
                if action.agency is None:
                    await hub.clear_faults()
                else:
                    await hub.clear_fault(self.code(action.agency))
            return Actual(text="faults cleared")
        if isinstance(action, ManualStep):
            inquiry_id = context.inquiry_id(action.inquiry)
            async with self.agency(action.agency) as client:
                if action.decline is not None:
                    held = await client.decline(
                        inquiry_id,
                        _build(
                            lambda: ManualDecline(
                                reason=action.decline or "", declined_by=action.user
                            )
                        ),
                    )
                else:
                    held = await client.answer(inquiry_id, ManualAnswer(answered_by=action.user))
            return Actual(text=f"{held.state}")
        if isinstance(action, InquiryResultStep):
            async with self.agency(action.agency) as client:
                final = await client.inquiry_result(context.inquiry_id(action.inquiry))
            return Actual(result=final)
        raise AssertionError(f"unhandled step {step.kind}")  # pragma: no cover

    async def _move_clock(self, action: ClockStep) -> str:
        """Set, advance or reset the simulated clock of every service of the network."""
        hub_url, admin = self.network.hub.url, self.network.admin_token
        async with HubOperatorClient(hub_url, admin, sandbox=None) as hub:
            shown = await hub.clock_view()
        if action.reset:
            target = None
        elif action.set is not None:
            target = action.set
        else:
            target = shown.now + dt.timedelta(seconds=action.advance or 0)
        for service in [self.network.hub, *self.network.agencies]:
            token = self.network.admin_token if service.role == "hub" else None
            async with HubOperatorClient(service.url, token, sandbox=None) as client:
                view = await client.move_clock(target)
        return f"clock at {view.now:%Y-%m-%dT%H:%M:%S}Z" + ("" if view.simulated else " (real)")

    async def _order(self, action: InquireStep, run_token: str) -> tuple[InquiryOrder, str]:
        """The order of an inquire or fan-out step, and the requester's slug."""
        from ipnsim.orders import OrderError, order_fields

        own = await self.persona_inquiry(action.persona) if action.persona else None
        requester = action.requester or (own.requester_slug if own else "")
        provider = action.provider or (own.provider_slug if own else "")
        procedure = action.procedure or (own.procedure_code if own else "")
        if own is not None and action.atena is None and requester == own.requester_slug:
            atena = own.atena_number
        else:
            atena = self.atena(requester, action, run_token)
        persona_own = own is not None and action.procedure is None
        fiscal_year: int | None
        if action.fiscal_year == "persona" or (action.fiscal_year is None and persona_own):
            fiscal_year = own.fiscal_year if own else None
        else:
            fiscal_year = action.fiscal_year if isinstance(action.fiscal_year, int) else None
        info_type = action.info_type or (own.info_type_code if own and persona_own else None)
        try:
            fields = order_fields(
                atena_number=atena,
                procedure_code=procedure,
                info_type_code=info_type,
                fiscal_year=fiscal_year,
                user_id="scenario",
            )
            provider_code = self.code(provider or requester)
        except OrderError as error:
            raise StepFailed(str(error)) from None
        order: InquiryOrder = _build(lambda: InquiryOrder(**fields, provider_code=provider_code))
        return order, requester


def _build(make: Callable[[], Any]) -> Any:
    try:
        return make()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()
        )
        raise StepFailed(problems) from None


def substitute(text: str, run_token: str) -> str:
    """``${run}`` → six digits drawn once per scenario run (unique keys, record ids …)."""
    return _VARIABLE.sub(run_token, text)


@dataclass
class Actual:
    """What a step produced, in the shape the expectations compare."""

    result: InquiryResult | None = None
    results: list[InquiryResult] | None = None
    records: list[ProvisionRecord] | None = None
    http_status: int | None = None
    error: str | None = None
    text: str = ""

    def summary(self) -> str:
        if self.result is not None:
            code = self.result.error.code if self.result.error else "no error"
            return f"{status_of(self.result)} {code} ({self.result.inquiry_id})"
        if self.results is not None:
            return ", ".join(
                f"{r.provider_name or r.provider_code} {status_of(r)}" for r in self.results
            )
        if self.records is not None:
            return f"{len(self.records)} record(s)"
        if self.error is not None:
            return f"HTTP {self.http_status} {self.error}: {self.text}"
        return self.text

    def error_code(self) -> str | None:
        if self.result is not None:
            return self.result.error.code if self.result.error else None
        return self.error


@dataclass
class RunContext:
    """What the steps of one run produced so far, and the run's ``${run}`` digits."""

    run_token: str
    actuals: dict[str, Actual] = field(default_factory=dict)
    requesters: dict[str, str] = field(default_factory=dict)

    def inquiry_id(self, step_name: str) -> uuid.UUID:
        actual = self.actuals.get(step_name)
        if actual is None or actual.result is None:
            raise StepFailed(f"step {step_name!r} produced no inquiry")
        return actual.result.inquiry_id


def status_of(result: InquiryResult) -> str:
    return f"{result.status_detail.value}/{result.status_info_type.value}"


def compare(
    expect: Expectation,
    actual: Actual,
    context: RunContext,
    code_of: Callable[[str], str] = lambda code: code,
) -> list[str]:
    """Every difference between what was expected and what happened, as readable lines
    (``code_of`` turns an agency slug into its code)."""
    differences: list[str] = []

    def differ(what: str, expected: Any, got: Any) -> None:
        if expected != got:
            differences.append(f"{what}: expected {expected!r}, actual {got!r}")

    given = expect.model_fields_set
    results = (
        actual.results
        if actual.results is not None
        else ([actual.result] if actual.result is not None else [])
    )
    if "error" in given:
        if actual.results is not None:
            for result in results:
                differ(
                    f"error of {result.provider_code}",
                    expect.error,
                    result.error.code if result.error else None,
                )
        else:
            differ("error", expect.error, actual.error_code())
    elif actual.error is not None:
        differences.append(f"the service refused the step: {actual.summary()}")
    if expect.status is not None:
        if not results:
            differ("status", expect.status, None)
        for result in results:
            label = "status" if actual.results is None else f"status of {result.provider_code}"
            differ(label, expect.status, status_of(result))
    if expect.items:
        answers: list[InquiryResult | None] = [*results] or [None]
        for answer in answers:
            got = {item.code: item.value for item in answer.items} if answer else {}
            for code, value in expect.items.items():
                differ(f"item {code}", value, got.get(code, "<absent>"))
    if expect.results is not None:
        differ("number of results", expect.results, len(actual.results or []))
    answered = {result.provider_code: result for result in actual.results or []}
    for provider, wanted_result in expect.by_provider.items():
        from_provider = answered.get(code_of(provider))
        if from_provider is None:
            differences.append(f"result of {provider}: expected one, actual none")
            continue
        if wanted_result.status is not None:
            differ(f"status of {provider}", wanted_result.status, status_of(from_provider))
        if "error" in wanted_result.model_fields_set:
            differ(
                f"error of {provider}",
                wanted_result.error,
                from_provider.error.code if from_provider.error else None,
            )
    if expect.same_inquiry_as is not None:
        differ(
            f"inquiry id (same as {expect.same_inquiry_as})",
            str(context.inquiry_id(expect.same_inquiry_as)),
            str(actual.result.inquiry_id) if actual.result else None,
        )
    if expect.records is not None:
        records = actual.records or []
        wanted = expect.records
        if wanted.count is not None:
            differ("number of records", wanted.count, len(records))
        for index, record in enumerate(records):
            dumped = record.model_dump(mode="json")
            for name, value in wanted.fields.items():
                differ(f"record {index + 1} {name}", value, dumped.get(name, "<absent>"))
            if wanted.addenda is not None:
                differ(f"record {index + 1} addenda", wanted.addenda, len(record.addenda))
    return differences


# --- JUnit XML -------------------------------------------------------------------------------


def junit_xml(outcomes: Sequence[ScenarioOutcome]) -> ET.ElementTree[ET.Element]:
    """One testsuite per scenario file, one testcase per step."""
    root = ET.Element("testsuites", name="ipnsim scenarios")
    for outcome in outcomes:
        failures = sum(1 for s in outcome.steps if s.differences and s.error is None)
        errors = sum(1 for s in outcome.steps if s.error is not None)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=outcome.name,
            file=str(outcome.path),
            tests=str(len(outcome.steps)),
            failures=str(failures),
            errors=str(errors),
            time=f"{sum(s.seconds for s in outcome.steps):.3f}",
        )
        for step in outcome.steps:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=outcome.path.stem,
                name=f"{step.name} ({step.kind})",
                time=f"{step.seconds:.3f}",
            )
            if step.error is not None:
                ET.SubElement(case, "error", message=step.error).text = step.error
            elif step.differences:
                text = "\n".join(step.differences)
                ET.SubElement(case, "failure", message=step.differences[0]).text = text
            else:
                ET.SubElement(case, "system-out").text = step.summary
    return ET.ElementTree(root)
