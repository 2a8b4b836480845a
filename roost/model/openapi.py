"""The OpenAPI document, generated from the field table.

Every field gets its own path (``/devices/thermostats/{device_id}/target_temperature_f``), so
tools that generate requests from the document reach real data locations.
"""

from __future__ import annotations

from typing import Any

from roost.model.schema import FIELDS, METADATA_FIELDS, Field

COLLECTIONS = {
    "thermostats": ("/devices/thermostats", "device_id"),
    "smoke_co_alarms": ("/devices/smoke_co_alarms", "device_id"),
    "cameras": ("/devices/cameras", "device_id"),
    "structures": ("/structures", "structure_id"),
}

ERROR = {"$ref": "#/components/schemas/Error"}


def field_schema(f: Field, writing: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": f.type, "description": f.description}
    if f.unit:
        schema["description"] += f" ({f.unit})"
    enum = (f.settable or f.enum) if writing else f.enum
    if enum is not None:
        schema["enum"] = list(enum)
    for attr in ("minimum", "maximum", "format"):
        if getattr(f, attr) is not None:
            schema[attr] = getattr(f, attr)
    if f.items:
        schema["items"] = {"type": f.items}
    if f.length is not None:
        shortest, longest = f.length
        if shortest:
            schema["minLength"] = shortest
        schema["maxLength"] = longest
    if f.entries:
        schema["additionalProperties"] = {
            "type": "object", "required": [e.name for e in f.entries if not e.identity],
            "properties": {e.name: field_schema(e, writing) for e in f.entries}}
    return schema


def _object_schema(kind: str, writing: bool) -> dict[str, Any]:
    fields = [f for f in FIELDS[kind].values() if (f.writable if writing else f.readable)]
    return {
        "type": "object",
        "properties": {f.name: field_schema(f, writing) for f in fields},
        "additionalProperties": not writing,
    }


def _responses(schema: dict[str, Any], writing: bool = False) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": "The written JSON" if writing else "The value at this location",
                "content": {"application/json": {"schema": schema}}},
        "401": {"description": "Missing or invalid token",
                "content": {"application/json": {"schema": ERROR}}},
        "404": {"description": "No such location",
                "content": {"application/json": {"schema": ERROR}}},
    }
    if writing:
        responses["400"] = {"description": "Refused; nothing was written",
                            "content": {"application/json": {"schema": ERROR}}}
    return responses


def _operation(summary: str, schema: dict[str, Any] | None, params: list[dict[str, Any]],
               write_schema: dict[str, Any] | None) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if schema is not None:
        item["get"] = {"summary": summary, "parameters": params, "responses": _responses(schema)}
    if write_schema is not None:
        for method in ("put", "patch"):
            item[method] = {
                "summary": f"Write {summary.lower()}", "parameters": params,
                "requestBody": {"required": True,
                                "content": {"application/json": {"schema": write_schema}}},
                "responses": _responses(write_schema, writing=True),
            }
    return item


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for kind, (base, id_name) in COLLECTIONS.items():
        param = [{"name": id_name, "in": "path", "required": True, "schema": {"type": "string"}}]
        read = _object_schema(kind, writing=False)
        write = _object_schema(kind, writing=True)
        paths[base] = _operation(f"All {kind}", {"type": "object",
                                                 "additionalProperties": read}, [], None)
        paths[f"{base}/{{{id_name}}}"] = _operation(f"One of {kind}", read, param,
                                                    write if write["properties"] else None)
        for f in FIELDS[kind].values():
            writable = field_schema(f, writing=True) if f.writable else None
            paths[f"{base}/{{{id_name}}}/{f.name}"] = _operation(
                f"{kind}.{f.name}", field_schema(f) if f.readable else None, param, writable)
    paths["/metadata"] = _operation("Metadata of this token", {
        "type": "object",
        "properties": {k: {"description": v} for k, v in METADATA_FIELDS.items()},
    }, [], None)
    paths["/"] = _operation("Everything this token may read", {"type": "object"}, [], None)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Roost: Works with Nest data API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": {"Error": {
                "type": "object",
                "required": ["error", "type", "message", "instance"],
                "properties": {"error": {"type": "string"}, "type": {"type": "string"},
                               "message": {"type": "string"}, "instance": {"type": "string"},
                               "details": {"type": "object"}},
            }},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "auth": {"type": "apiKey", "in": "query", "name": "auth"}},
        },
        "security": [{"bearer": []}, {"auth": []}],
    }
