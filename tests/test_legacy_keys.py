"""Every key the Nest dumps list for the device, shared, structure, track, topaz and user
buckets is served (docs: ``legacy-api.md`` §5.3), with a value of the type Nest sent: the
legacy clients read them without checking."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Api
from legacy_helpers import sign_in

DEVICE = """
    alt_heat_delivery alt_heat_source alt_heat_x2_delivery alt_heat_x2_source
    auto_away_enable auto_away_reset aux_heat_delivery aux_heat_source aux_lockout_leaf
    available_locales away_temperature_high away_temperature_high_enabled
    away_temperature_low away_temperature_low_enabled backplate_bsl_info
    backplate_bsl_version backplate_model backplate_mono_info backplate_mono_version
    backplate_serial_number backplate_temperature battery_level capability_level click_sound
    compressor_lockout_leaf cooling_source cooling_x2_source country_code creation_time
    current_humidity current_schedule_mode current_version dehumidifier_state
    dehumidifier_type device_locale dual_fuel_breakpoint dual_fuel_breakpoint_override eco
    emer_heat_delivery emer_heat_enable emer_heat_source equipment_type error_code
    fan_capabilities fan_cooling_enabled fan_cooling_readiness fan_cooling_state
    fan_current_speed fan_duty_cycle fan_duty_end_time fan_duty_start_time fan_mode
    fan_schedule_speed fan_timer_duration fan_timer_speed fan_timer_timeout
    filter_reminder_enabled forced_air has_alt_heat has_aux_heat has_dehumidifier
    has_dual_fuel has_emer_heat has_fan has_heat_pump has_hot_water_control has_humidifier
    has_x2_alt_heat has_x2_cool has_x2_heat has_x3_heat heat_link_connection
    heat_pump_aux_threshold heat_pump_aux_threshold_enabled heat_pump_comp_threshold
    heat_pump_comp_threshold_enabled heat_x2_delivery heat_x2_source heat_x3_delivery
    heat_x3_source heater_delivery heater_source heatpump_ready heatpump_savings
    heatpump_setback_active hot_water_active hot_water_boost_time_to_end
    hot_water_temperature humidifier_state humidifier_type hvac_pins hvac_wires leaf
    leaf_away_high leaf_away_low leaf_learning leaf_schedule_delta leaf_threshold_cool
    leaf_threshold_heat leaf_type learning_days_completed_cool learning_days_completed_heat
    learning_days_completed_range learning_mode learning_state learning_time local_ip
    lower_safety_temp lower_safety_temp_enabled mac_address maint_band_lower model_version
    nlclient_state note_codes ob_orientation pin_c_description pin_g_description
    pin_ob_description pin_rc_description pin_rh_description pin_star_description
    pin_w1_description pin_w2aux_description pin_y1_description pin_y2_description
    postal_code preconditioning_active preconditioning_enabled preconditioning_ready
    radiant_control_enabled range_enable range_mode rssi schedule_learning_reset
    serial_number sunlight_correction_active sunlight_correction_enabled
    switch_preconditioning_control switch_system_off target_humidity target_humidity_enabled
    target_time_confidence temperature_lock temperature_lock_high_temp
    temperature_lock_low_temp temperature_lock_pin_hash temperature_scale time_to_target
    time_to_target_training type upper_safety_temp upper_safety_temp_enabled user_brightness
    weave_device_id where_id
""".split()  # noqa: SIM905  (as the dumps list them)

SHARED = """
    auto_away auto_away_learning can_cool can_heat compressor_lockout_enabled
    compressor_lockout_timeout current_temperature hvac_ac_state hvac_alt_heat_state
    hvac_alt_heat_x2_state hvac_aux_heater_state hvac_cool_x2_state hvac_emer_heat_state
    hvac_fan_state hvac_heat_x2_state hvac_heat_x3_state hvac_heater_state
    hvac_cool_x3_state name target_change_pending target_temperature target_temperature_high
    target_temperature_low target_temperature_type touched_by
""".split()  # noqa: SIM905  (as the dumps list them)

STRUCTURE = """
    location renovation_date country_code away_timestamp away away_setter house_type name
    postal_code creation_time num_thermostats devices user manual_away_timestamp
    emergency_contact_phone emergency_contact_type emergency_contact_description
    eta_unique_id structure_area time_zone topaz_away hvac_smoke_safety_shutoff_enabled
    hvac_safety_shutoff_enabled dr_reminder_enabled phone_hush_enable topaz_hush_key swarm
    fabric_ids ifj_primary_fabric_id clutches members street_address vacation_mode
    eta_preconditioning_active topaz_enhanced_auto_away_enabled
""".split()  # noqa: SIM905  (as the dumps list them)

TOPAZ = """
    auto_away battery_health_state battery_level buzzer_test_results capability_level
    certification_body co_blame_duration co_blame_threshold co_previous_peak
    co_sequence_number co_status component_als_test_passed component_buzzer_test_passed
    component_co_test_passed component_heat_test_passed component_hum_test_passed
    component_led_test_passed component_pir_test_passed component_smoke_test_passed
    component_speaker_test_passed component_temp_test_passed component_us_test_passed
    component_wifi_test_passed creation_time description device_born_on_date_utc_secs
    device_external_color device_locale fabric_id factory_loaded_languages
    gesture_hush_enable heads_up_enable heat_status home_alarm_link_capable
    home_alarm_link_connected home_alarm_link_type hushed_state installed_locale
    is_rcs_capable is_rcs_used kl_software_version latest_manual_test_cancelled
    latest_manual_test_end_utc_secs latest_manual_test_start_utc_secs line_power_present
    model night_light_brightness night_light_continuous night_light_enable
    ntp_green_led_brightness ntp_green_led_enable product_id removed_from_base
    replace_by_date_utc_secs resource_id serial_number smoke_sequence_number smoke_status
    software_version speaker_test_results spoken_where_id steam_detection_enable
    structure_id thread_ip_address thread_mac_address where_id wifi_ip_address
    wifi_mac_address wired_or_battery
""".split()  # noqa: SIM905  (as the dumps list them)

TRACK = ["online", "last_connection", "last_ip"]
USER = ["name", "structures"]
EXPECTED = {"device": DEVICE, "shared": SHARED, "structure": STRUCTURE, "track": TRACK,
            "topaz": TOPAZ, "user": USER}


@pytest.mark.parametrize("bucket", sorted(EXPECTED))
def test_every_listed_key_is_served(api: Api, monkeypatch: pytest.MonkeyPatch,
                                    bucket: str) -> None:
    mobile = sign_in(api, monkeypatch).mobile()
    assert mobile[bucket]
    for id, value in mobile[bucket].items():
        missing = sorted(set(EXPECTED[bucket]) - set(value))
        assert missing == [], f"{bucket}.{id} lacks {missing}"


def test_values_are_what_nest_sent(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    mobile = sign_in(api, monkeypatch).mobile()
    device: dict[str, Any] = mobile["device"][api.living_room]
    assert isinstance(device["battery_level"], float)  # volts
    assert device["mac_address"].startswith("18b430") and len(device["mac_address"]) == 12
    assert device["backplate_temperature"] == mobile["shared"][api.living_room][
        "current_temperature"]
    topaz = mobile["topaz"][api.alarm]
    assert isinstance(topaz["battery_level"], int)  # millivolts
    assert topaz["wifi_mac_address"] != topaz["thread_mac_address"]
    structure = mobile["structure"][api.structure_id]
    assert structure["topaz_away"] is structure["away"]
    assert structure["num_thermostats"] == str(len(structure["devices"]))


def test_keys_roost_does_not_model_are_written_and_ignored(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    legacy = sign_in(api, monkeypatch)
    key = f"device.{api.living_room}"
    # python-nest sets target_humidity; Roost models no humidifier, so it stays as Nest
    # showed a thermostat without one.
    assert legacy.put(key, {"target_humidity": 45.0}).status_code == 200
    assert legacy.bucket(key)["target_humidity"] == 35.0
    # A key Roost does model is still refused when it would change what it shows.
    response = legacy.put(key, {"serial_number": "other"})
    assert response.status_code == 400
    assert response.json()["error"] == "read_only"
