"""Bucket keys the Nest apps read that Roost keeps no logic for, with the value each shows.

The legacy clients read these without checking (python-nest 2.11 raises ``KeyError`` for a
missing one), so every key the Nest dumps list is served. Each is a stored-only entry of the
field table (``schema._legacy_only``): its value is whatever Nest sent for a device without
the feature (no humidifier, no hot water, a battery-powered Protect, nothing paired), until a
device reports another. Keys that follow from what Roost models (``has_fan``, the fan mode,
``topaz_away``, the MAC addresses) are not here: the table's wires or ``legacy/buckets.py``
give them.

Keys are grouped by the WWN kind whose object stores them, then by bucket.
"""

from __future__ import annotations

from typing import Any

# A thermostat's device.<id>: its wiring, equipment and learning, as a single-stage
# gas-furnace-and-AC install with no accessories showed them.
THERMOSTAT_DEVICE: dict[str, Any] = {
    "heatpump_setback_active": False, "emer_heat_enable": False, "local_ip": "",
    "switch_system_off": False, "cooling_source": "electric", "leaf_threshold_cool": 0.0,
    "fan_cooling_state": False, "note_codes": [], "heater_source": "gas",
    "compressor_lockout_leaf": -17.79, "heat_x3_source": "gas",
    "alt_heat_delivery": "forced-air", "rssi": 60.0, "emer_heat_delivery": "forced-air",
    "heatpump_savings": "off", "pin_y2_description": "none", "filter_reminder_enabled": False,
    "capability_level": 5.6, "schedule_learning_reset": False, "ob_orientation": "O",
    "range_enable": True, "auto_away_enable": False, "dual_fuel_breakpoint_override": "none",
    "lower_safety_temp_enabled": True, "dehumidifier_state": False, "range_mode": False,
    "nlclient_state": "", "emer_heat_source": "electric", "heatpump_ready": False,
    "available_locales": "en_US,fr_CA,es_US,en_GB,fr_FR,nl_NL,es_ES,it_IT,de_DE",
    "learning_state": "steady", "pin_ob_description": "none", "pin_rh_description": "power",
    "pin_y1_description": "cool", "humidifier_state": False, "backplate_serial_number": "",
    "has_x2_alt_heat": False, "heat_x3_delivery": "forced-air", "leaf_threshold_heat": 1000.0,
    "learning_mode": True, "leaf_learning": "ready", "aux_heat_source": "electric",
    "backplate_bsl_info": "", "alt_heat_x2_source": "gas", "pin_c_description": "power",
    "humidifier_type": "unknown", "pin_w2aux_description": "none", "target_humidity": 35.0,
    "heat_x2_delivery": "forced-air", "lower_safety_temp": 4.444,
    "cooling_x2_source": "electric", "equipment_type": "gas", "heat_pump_aux_threshold": 10.0,
    "alt_heat_x2_delivery": "forced-air", "heat_pump_comp_threshold": -31.5,
    "learning_days_completed_cool": 0, "backplate_bsl_version": "",
    "hvac_wires": "Heat,Cool,Fan,Common Wire,Rh", "hvac_pins": "W1,Y1,G,C,Rh", "type": "TBD",
    "pin_g_description": "fan",
    "switch_preconditioning_control": False, "click_sound": "on",
    "aux_heat_delivery": "forced-air", "heat_pump_comp_threshold_enabled": False,
    "preconditioning_ready": True, "fan_cooling_enabled": False, "leaf_away_high": 28.88,
    "fan_cooling_readiness": "not ready", "preconditioning_active": False,
    "battery_level": 3.93, "learning_days_completed_heat": 0, "pin_star_description": "none",
    "upper_safety_temp_enabled": False, "preconditioning_enabled": False,
    "dual_fuel_breakpoint": -1.0, "backplate_mono_version": "", "alt_heat_source": "gas",
    "aux_lockout_leaf": 10.0, "heater_delivery": "forced-air", "auto_away_reset": False,
    "radiant_control_enabled": False, "upper_safety_temp": 35.0, "dehumidifier_type": "unknown",
    "target_time_confidence": 1.0, "pin_w1_description": "heat", "forced_air": True,
    "temperature_lock_pin_hash": "", "leaf_type": 1, "backplate_mono_info": "",
    "learning_time": 0, "creation_time": 0, "learning_days_completed_range": 0,
    "leaf_schedule_delta": 1.1, "user_brightness": "auto", "leaf_away_low": 12.22,
    "pin_rc_description": "none", "heat_x2_source": "gas", "backplate_model": "Backplate-1.9",
    "model_version": "Display-2.9", "heat_pump_aux_threshold_enabled": False,
    "target_humidity_enabled": False,
    # Later firmware: fan speeds and duty cycle, hot water (UK Heat Link), Weave.
    "fan_duty_cycle": 3600, "fan_duty_start_time": 0, "fan_duty_end_time": 86400,
    "fan_current_speed": "off", "fan_timer_speed": "stage1", "fan_schedule_speed": "stage1",
    "fan_capabilities": "stage1", "hot_water_active": False, "hot_water_boost_time_to_end": 0,
    "hot_water_temperature": 0.0, "heat_link_connection": 0, "maint_band_lower": 0,
    "weave_device_id": "",
}

THERMOSTAT_SHARED: dict[str, Any] = {
    "auto_away_learning": "ready", "compressor_lockout_enabled": False,
    "compressor_lockout_timeout": 0, "touched_by": {},
}

THERMOSTAT_TRACK: dict[str, Any] = {"last_ip": ""}

# A structure.<id>: what a home nobody filled in the details of showed.
STRUCTURE: dict[str, Any] = {
    "location": "", "renovation_date": "", "house_type": "family", "creation_time": 0,
    "manual_away_timestamp": 0, "emergency_contact_phone": "", "emergency_contact_type": "",
    "emergency_contact_description": "", "eta_unique_id": "", "structure_area": 0.0,
    "dr_reminder_enabled": False, "phone_hush_enable": False, "topaz_hush_key": "",
    "fabric_ids": [], "ifj_primary_fabric_id": "", "clutches": [], "street_address": "",
    "vacation_mode": False, "eta_preconditioning_active": False,
    "topaz_enhanced_auto_away_enabled": False, "measurement_scale": "F",
}

# A topaz.<id>: a battery Protect (2nd generation) with every self-test passed.
PROTECT: dict[str, Any] = {
    "model": "Topaz-2.33", "kl_software_version": "net-1.1.9", "battery_level": 5400,
    "line_power_present": False, "wired_or_battery": 1, "co_previous_peak": 0,
    "co_blame_duration": 0, "co_blame_threshold": 0, "co_sequence_number": 0,
    "smoke_sequence_number": 0,
    **{f"component_{part}_test_passed": True
       for part in ("als", "heat", "hum", "led", "pir", "temp", "us", "speaker", "buzzer")},
    "replace_by_date_utc_secs": 0, "device_born_on_date_utc_secs": 0, "creation_time": 0,
    "night_light_enable": False, "night_light_continuous": False, "night_light_brightness": 2,
    "ntp_green_led_enable": True, "ntp_green_led_brightness": 2, "heads_up_enable": True,
    "steam_detection_enable": True, "gesture_hush_enable": True, "hushed_state": False,
    "auto_away": False, "home_alarm_link_capable": False, "home_alarm_link_connected": False,
    "home_alarm_link_type": 0, "wifi_ip_address": "", "thread_ip_address": [],
    "fabric_id": "", "resource_id": "", "product_id": 9, "capability_level": 2,
    "certification_body": 1, "device_external_color": "white", "installed_locale": "en_US",
    "factory_loaded_languages": "en_US,fr_CA,es_US", "removed_from_base": False,
    "is_rcs_capable": False, "is_rcs_used": False, "speaker_test_results": 0,
    "buzzer_test_results": 0, "wifi_regulatory_domain": "A0", "wired_led_enable": True,
}

# WWN kind -> bucket -> keys.
KEYS: dict[str, dict[str, dict[str, Any]]] = {
    "thermostats": {"device": THERMOSTAT_DEVICE, "shared": THERMOSTAT_SHARED,
                    "track": THERMOSTAT_TRACK},
    "structures": {"structure": STRUCTURE},
    "smoke_co_alarms": {"topaz": PROTECT},
}
