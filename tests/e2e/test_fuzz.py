"""Fuzzing every service's OpenAPI document over real HTTP (schemathesis).

A small network (the hub, two intermediate servers and the resident registry) is started, and
schemathesis generates requests from each service's own ``/openapi.json``: valid ones
(positive) and invalid ones (negative). Every answer must be no server error (5xx), carry a
status code and content type its document declares, and match the declared schema; an error
answer is an ``ErrorBody`` with its catalogued code.

Deterministic and bounded: Hypothesis runs derandomized, without its example database (nothing
is written into the repository) and without shrinking, with a few examples per operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from agencies.catalogue import ODAWARA, YAMAGATA
from ipnsim.launcher import REGISTRY_SERVICE, NetworkFile
from network.protocol.log_api import MAX_INDEX
from tests.e2e.conftest import small_network

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 5
"""Examples per operation and generation mode: a sample of each operation's valid and invalid
inputs (the same every run), small enough for the whole fuzz to take about a minute."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

OPERATOR_PATHS = ("/v1/records", "/v1/stats/errors", "/v1/stats/usage", "/v1/faults", "/v1/log")
"""The hub's paths for the operator (運用者): called with the admin token. ``GET
/v1/records/{inquiry_id}`` takes the operator too; every other hub path takes an agency's
credential."""


@dataclass(frozen=True)
class Target:
    """A service to fuzz: its base URL and the Authorization each of its paths takes."""

    url: str
    operator_token: str | None
    credential: str | None

    def authorization(self, path: str) -> dict[str, str]:
        if self.operator_token is not None and path.startswith(OPERATOR_PATHS):
            return {"Authorization": f"Bearer {self.operator_token}"}
        if self.credential is not None:
            return {"Authorization": f"Bearer {self.credential}"}
        return {}


@pytest.fixture(scope="module")
def fuzz_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkFile]:
    # Hypothesis caches (constants, Unicode data) go to a temporary directory, not the tree.
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    # A short provider timeout: the fuzzed PUT /v1/faults may leave a provider timing out.
    with small_network(
        tmp_path_factory.mktemp("fuzz"), (YAMAGATA, ODAWARA), provider_timeout=1.0
    ) as launcher:
        assert launcher.network is not None
        try:
            yield launcher.network
        finally:
            set_hypothesis_home_dir(None)


def target_of(network: NetworkFile, service: str) -> Target:
    if service == "hub":
        # Agency paths with Yamagata's credential, the operator's paths with the admin token.
        return Target(network.hub.url, network.admin_token, network.agency(YAMAGATA).credential)
    if service == "intermediate-server":
        # /v1 is the business system's (no credential); /hub/* takes the credential the hub
        # presents, which is the agency's own.
        return Target(network.agency(ODAWARA).url, None, network.agency(ODAWARA).credential)
    registry = next(s for s in network.services if s.name == REGISTRY_SERVICE)
    return Target(registry.url, None, None)


def lift_faults(network: NetworkFile) -> None:
    """Lift the faults a fuzzed PUT /v1/faults set, so they slow no other service's fuzz."""
    response = httpx.delete(
        network.hub.url + "/v1/faults",
        headers={"Authorization": f"Bearer {network.admin_token}"},
        timeout=10,
    )
    assert response.status_code == 204, response.text


def fuzz_operation(
    operation: APIOperation, headers: dict[str, str], mode: GenerationMode, failures: list[str]
) -> None:
    """Send the operation's examples of ``mode``; each failed check is added to ``failures``."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Case) -> None:
        try:
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)
        except (AssertionError, FailureGroup) as error:
            lines = str(error).strip().splitlines()
            failures.append(f"{operation.label} [{mode.value}]: {' | '.join(lines[:12])}")

    run()


def fuzz(target: Target, mode: GenerationMode) -> list[str]:
    """Every failure schemathesis finds on the service, one line each."""
    schema = schemathesis.openapi.from_url(target.url + "/openapi.json", timeout=10)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            fuzz_operation(operation, target.authorization(operation.path), mode, failures)
        except Unsatisfiable:
            # Negative mode on an operation with no input: nothing can be made invalid.
            assert mode is GenerationMode.NEGATIVE, operation.label
    return failures


@pytest.mark.parametrize("service", ["hub", "intermediate-server", "resident-registry"])
def test_no_request_makes_a_service_fail_or_break_its_schema(
    fuzz_network: NetworkFile, service: str
) -> None:
    target = target_of(fuzz_network, service)
    lift_faults(fuzz_network)
    failures = fuzz(target, GenerationMode.POSITIVE) + fuzz(target, GenerationMode.NEGATIVE)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("service", ["hub", "intermediate-server"])
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": MAX_INDEX + 1}, "start"),
        ({"end": 2**63}, "end"),
        ({"leaf_index": 2**64}, "leaf_index"),
        ({"first": 1, "second": 2**63}, "second"),
    ],
)
def test_a_log_index_beyond_any_log_is_refused_not_an_overflow(
    fuzz_network: NetworkFile, service: str, query: dict[str, int], field: str
) -> None:
    """An index too large for the database's integers was a 500 (SYS001); it is VAL001."""
    target = target_of(fuzz_network, service)
    path = {"start": "entries", "end": "entries", "leaf_index": "proof/inclusion"}
    url = f"{target.url}/v1/log/{path.get(field, 'proof/consistency')}"
    response = httpx.get(url, params=query, headers=target.authorization("/v1/log"), timeout=10)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "VAL001"
    assert response.json()["details"][0]["field"] == field
