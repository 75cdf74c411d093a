"""A Postman collection (v2.1) exported from the OpenAPI document."""

from __future__ import annotations

import json
from typing import Any

from functions.openapi import document

Doc = dict[str, Any]
SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"


def _item(path: str, method: str, operation: Doc) -> Doc:
    segments = [("{{" + s[1:-1] + "}}" if s.startswith("{") else s) for s in path.strip("/").split("/")]
    query = [{"key": p["name"], "value": "", "disabled": True}
             for p in operation.get("parameters", []) if p["in"] == "query"]
    headers = [{"key": p["name"], "value": "", "disabled": True}
               for p in operation.get("parameters", []) if p["in"] == "header"]
    request: Doc = {
        "method": method.upper(),
        "header": headers,
        "url": {"raw": "{{baseUrl}}/" + "/".join(segments), "host": ["{{baseUrl}}"], "path": segments,
                **({"query": query} if query else {})},
        "description": operation.get("summary", ""),
    }
    if operation.get("security") == []:
        request["auth"] = {"type": "noauth"}
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    if "example" in body:
        request["header"] = [{"key": "Content-Type", "value": "application/json"}, *headers]
        request["body"] = {"mode": "raw", "raw": json.dumps(body["example"], indent=2)}
    return {"name": operation.get("summary", f"{method.upper()} {path}"), "request": request}


def collection() -> Doc:
    """The collection: one request per operation, the key as a bearer token variable."""
    spec = document()
    return {
        "info": {"name": "WaveCom-Notifications", "description": spec["info"]["description"], "schema": SCHEMA},
        "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{apiKey}}", "type": "string"}]},
        "variable": [{"key": "baseUrl", "value": "http://127.0.0.1:4200"}, {"key": "apiKey", "value": ""},
                     {"key": "id", "value": ""}],
        "item": [_item(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()],
    }


def render() -> str:
    """The collection as the file kept in the repository."""
    return json.dumps(collection(), indent=2) + "\n"
