"""A Postman collection (v2.1) exported from the OpenAPI document.

Every request carries a test script built from the document: the statuses it may answer and the
shape of each answer (required fields, their JSON types, patterns and enums). The create request
keeps the new job's id in the collection variable `id`, and the webhook registration the new
endpoint's in `webhookId`, which the requests after them use; `webhookUrl` is the receiver a
user registers, and `recipient` the one the suppression requests add and lift.
"""

from __future__ import annotations

import json
from typing import Any

from functions.openapi import OPERATIONS, WEBHOOK_URL, document

Doc = dict[str, Any]
SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")

# The checks every request's script runs, given `expected` (status -> shape) from the document.
CHECKS = """\
const typeOf = (v) => v === null ? "null" : Array.isArray(v) ? "array" : Number.isInteger(v) ? "integer" : typeof v;
const fits = (v, types) => types.includes(typeOf(v)) || (typeOf(v) === "integer" && types.includes("number"));
const code = String(pm.response.code);
pm.test(`answers one of ${Object.keys(expected).join(", ")}`, () => {
  pm.expect(Object.keys(expected)).to.include(code);
});
const shape = expected[code];
if (shape) {
  pm.test(`a ${code} answer has the documented shape`, () => {
    pm.expect(pm.response.headers.get("Content-Type") || "").to.include(shape.contentType);
    if (shape.fields === null) return;  // free-form
    const body = pm.response.json();
    if (shape.list) pm.expect(body).to.be.an("array");
    for (const item of shape.list ? body : [body]) {
      pm.expect(item).to.be.an("object");
      for (const [name, field] of Object.entries(shape.fields)) {
        pm.expect(item, name).to.have.property(name);
        pm.expect(fits(item[name], field.types), `${name}: ${field.types.join(" or ")}`).to.be.true;
        if (field.pattern && typeof item[name] === "string") pm.expect(item[name], name).to.match(new RegExp(field.pattern));
        if (field.enum) pm.expect(field.enum, name).to.include(item[name]);
      }
    }
  });
}"""
KEEP_ID = """\
if (pm.response.code === 201 || pm.response.code === 202) {
  pm.collectionVariables.set("{variable}", pm.response.json().id);  // for the requests that follow
}"""
# Which collection variable a path's `{id}` is: a job's, or a webhook endpoint's.
ID_VARIABLES = {"create": "id", "createWebhook": "webhookId", "createErasure": "erasureId"}
PATH_IDS = {"/api/webhooks/": "webhookId", "/api/erasures/": "erasureId"}  # whose `{id}` a path's is
# Values a user sets besides the base URL and the key, with the defaults the collection holds.
VARIABLES = {"recipient": "ada@example.com", "webhookUrl": WEBHOOK_URL}


def _resolve(schema: Doc, components: Doc) -> Doc:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _field(schema: Doc, components: Doc) -> Doc:
    """What a property's value may be: its JSON types, and its pattern or enum if it has one."""
    schema = _resolve(schema, components)
    branches = [_resolve(b, components) for b in schema.get("anyOf", [schema])]
    types = [t for t in JSON_TYPES if any(b.get("type", t) == t for b in branches)]  # no `type`: any
    field: Doc = {"types": types}
    for branch in branches:
        if "pattern" in branch:
            field["pattern"] = branch["pattern"]
        if "enum" in branch or "const" in branch:
            field["enum"] = branch.get("enum", [branch.get("const")])
    return field


def _shape(response: Doc, components: Doc) -> Doc | None:
    """What the test script checks of one documented answer (None: it has no body, a 204)."""
    content: dict[str, Doc] = response.get("content", {})
    if not content:
        return None
    content_type, media = next(iter(content.items()), ("application/json", {}))
    schema: Doc = media.get("schema", {})
    listed = schema.get("type") == "array"
    target = _resolve(schema.get("items", {}) if listed else schema, components)
    if not target.get("properties"):
        return {"contentType": content_type, "list": listed, "fields": None}
    fields = {name: _field(target["properties"][name], components) for name in target.get("required", [])}
    return {"contentType": content_type, "list": listed, "fields": fields}


def _script(name: str, operation: Doc, components: Doc) -> list[str]:
    op = OPERATIONS[name]
    statuses = [str(op.ok[0]), *(str(s) for s in op.situational)]
    expected = {s: _shape(operation["responses"][s], components) for s in statuses}
    lines = [f"// Exported from the OpenAPI document: what `{name}` may answer here, and in what shape.",
             f"const expected = {json.dumps(expected)};", *CHECKS.splitlines()]
    keep = KEEP_ID.replace("{variable}", ID_VARIABLES[name]).splitlines() if name in ID_VARIABLES else []
    return lines + keep


def _item(path: str, method: str, operation: Doc, components: Doc) -> Doc:
    def variable(name: str) -> str:
        return next((v for prefix, v in PATH_IDS.items() if name == "id" and path.startswith(prefix)), name)

    segments = [("{{" + variable(s[1:-1]) + "}}" if s.startswith("{") else s) for s in path.strip("/").split("/")]
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
        example = {**body["example"], "url": "{{webhookUrl}}"} if operation["operationId"] == "createWebhook" \
            else body["example"]
        request["body"] = {"mode": "raw", "raw": json.dumps(example, indent=2)}
    script = _script(operation["operationId"], operation, components)
    return {"name": operation.get("summary", f"{method.upper()} {path}"), "request": request,
            "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": script}}]}


def collection() -> Doc:
    """The collection: one request per operation, the key as a bearer token variable."""
    spec = document()
    components = spec["components"]["schemas"]
    return {
        "info": {"name": "WaveCom-Notifications", "description": spec["info"]["description"], "schema": SCHEMA},
        "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{apiKey}}", "type": "string"}]},
        "variable": [{"key": "baseUrl", "value": "http://127.0.0.1:4200"}, {"key": "apiKey", "value": ""},
                     {"key": "id", "value": ""}, {"key": "webhookId", "value": ""}, {"key": "erasureId", "value": ""},
                     *({"key": k, "value": v} for k, v in VARIABLES.items())],
        "item": [_item(path, method, op, components) for path, ops in spec["paths"].items()
                 for method, op in ops.items()],
    }


def render() -> str:
    """The collection as the file kept in the repository."""
    return json.dumps(collection(), indent=2) + "\n"
