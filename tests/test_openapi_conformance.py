"""The running server against its own OpenAPI document, as schemathesis probes it: every
operation, a bounded number of generated requests each, no server error and no response
outside the document (status, content type, schema, the 405 for a method it lacks)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from conftest import RoostProcess
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

# A write the document allows may still be refused by the rules (a set point in Eco, outside
# the lock), with the 400 the document lists: that is the rules' business, not conformance.
RULES_DECIDE = [schemathesis.checks.positive_data_acceptance]
EXAMPLES = 6  # per operation: enough to reach each kind of answer, within a minute in all


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoostProcess]:
    process = RoostProcess(tmp_path_factory.mktemp("openapi") / "roost.db").start()
    yield process
    process.kill()


def test_the_server_answers_as_its_document_says(server: RoostProcess) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    headers = {"Authorization": f"Bearer {server.token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    with server.client() as client:
        tree = client.get("/").json()
    # Real ids as well as made-up ones, so reads and writes reach the home, not only 404s.
    ids = {"device_id": [i for kind in tree["devices"].values() for i in kind],
           "structure_id": list(tree["structures"])}

    for operation in operations:

        @given(case=operation.as_strategy(), real=st.booleans(), pick=st.integers(0, 99))
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate])
        def probe(case: schemathesis.Case, real: bool, pick: int) -> None:
            for name in case.path_parameters or {}:
                if real and ids.get(name):
                    case.path_parameters[name] = ids[name][pick % len(ids[name])]
            case.call_and_validate(headers=headers, excluded_checks=RULES_DECIDE)

        probe()
