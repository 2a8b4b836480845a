"""Any JSON number in any numeric field of the table is judged, never a server error: a
Works with Nest PUT or PATCH answers 200 or the data API's 400, a legacy ``/v2/put`` or
``/v5/put`` answers 200 or the legacy 400, huge finite numbers (``1e308``) included."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Api
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from legacy_helpers import Legacy, sign_in

from roost.model.schema import FIELDS, Field, legacy_wired

HUGE = (1e308, -1.7976931348623157e308, 1.7976931348623157e308, -1e308)
# Any number JSON carries to Roost: orjson reads integers up to 64 bits and every finite float.
NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.sampled_from(HUGE),
)
NUMERIC = [f for fields in FIELDS.values() for f in fields.values()
           if f.type in ("integer", "number")]
WIRED = [(bucket, w.key) for bucket in ("shared", "device", "structure", "topaz", "track",
                                        "quartz", "widget_track", "metadata")
         for f, w in legacy_wired(bucket) if f.type in ("integer", "number")]
PROPERTY = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def test_the_table_has_numeric_fields_of_both_apis() -> None:
    assert len(NUMERIC) > 20
    assert ("shared", "target_temperature") in WIRED


def _path(api: Api, f: Field) -> str:
    if f.kind == "structures":
        return f"/structures/{api.structure_id}"
    id = {"thermostats": api.living_room, "smoke_co_alarms": api.alarm,
          "cameras": api.camera}[f.kind]
    return f"/devices/{f.kind}/{id}"


def _judged(response: Any, api_keys: set[str]) -> None:
    assert response.status_code in (200, 400), (response.status_code, response.text)
    if response.status_code == 400:
        assert api_keys <= set(response.json()), response.text


WWN_ERROR = {"error", "type", "message", "instance"}
LEGACY_ERROR = {"error", "error_description"}


@pytest.mark.parametrize("value", HUGE)
def test_huge_temperatures_are_a_400_in_every_api(api: Api, monkeypatch: pytest.MonkeyPatch,
                                                    value: float) -> None:
    response = api.put(f"/devices/thermostats/{api.living_room}/target_temperature_f", value)
    assert response.status_code == 400, response.text
    assert set(response.json()) >= WWN_ERROR
    response = api.client.patch(f"/devices/thermostats/{api.living_room}",
                                json={"target_temperature_c": value})
    assert response.status_code == 400, response.text
    legacy = sign_in(api, monkeypatch)
    response = legacy.put(f"shared.{api.living_room}", {"target_temperature": value})
    assert response.status_code == 400, response.text
    assert set(response.json()) == LEGACY_ERROR
    response = legacy.put_objects([{"object_key": f"device.{api.living_room}", "op": "MERGE",
                                    "value": {"away_temperature_low": value}}])
    assert response.status_code == 400, response.text
    assert set(response.json()) == LEGACY_ERROR


@PROPERTY
@given(field=st.sampled_from(NUMERIC), value=NUMBERS, patch=st.booleans())
@example(field=FIELDS["thermostats"]["target_temperature_f"], value=1e308, patch=False)
@example(field=FIELDS["thermostats"]["eco_temperature_low"], value=-1e308, patch=True)
def test_any_number_in_any_numeric_field_is_judged_by_works_with_nest(
        api: Api, field: Field, value: float, patch: bool) -> None:
    path = _path(api, field)
    if patch:
        response = api.client.patch(path, json={field.name: value})
    else:
        response = api.put(f"{path}/{field.name}", value)
    _judged(response, WWN_ERROR)


@pytest.fixture
def legacy(api: Api, monkeypatch: pytest.MonkeyPatch) -> Legacy:
    return sign_in(api, monkeypatch)


@PROPERTY
@given(wired=st.sampled_from(WIRED), value=NUMBERS, many=st.booleans())
@example(wired=("shared", "target_temperature"), value=1e308, many=False)
@example(wired=("device", "away_temperature_high"), value=-1.7976931348623157e308, many=True)
def test_any_number_in_any_numeric_bucket_key_is_judged_by_the_legacy_api(
        legacy: Legacy, wired: tuple[str, str], value: float, many: bool) -> None:
    bucket, key = wired
    mobile = legacy.mobile()
    if not mobile.get(bucket):
        return  # the demo home has no such bucket
    object_key = f"{bucket}.{next(iter(mobile[bucket]))}"
    if many:
        response = legacy.put_objects([{"object_key": object_key, "op": "MERGE",
                                        "value": {key: value}}])
    else:
        response = legacy.put(object_key, {key: value})
    _judged(response, LEGACY_ERROR)
