"""ASGI middleware in front of the service: API-key roles, and bad input answered as 422.

Roles per path are checked before BentoML parses anything, so a caller without the right key
learns nothing about the API beyond its public schema. Health, readiness, metrics and the
OpenAPI schema stay open: they hold no secrets and probes carry no keys. The key itself never
reaches a log: only its id is put in the request scope.
"""

from __future__ import annotations

import json
import logging

from f1_core import settings
from f1_core.api_keys import ROLES, KeyStore, allows

logger = logging.getLogger("f1_serving.auth")

OPEN_PATHS = {"/", "/healthz", "/livez", "/readyz", "/metrics", "/docs.json", "/schema.json"}
OPEN_PREFIXES = ("/assets/",)
ROLE_OF_PATH = {
    "/predict": "viewer",
    "/explain": "viewer",
    "/model": "engineer",
    "/sessions": "engineer",
    "/reload": "admin",
}
# paths whose request body is validated by the API: its failures are the client's, i.e. 422
VALIDATED_PATHS = {"/predict", "/explain"}


async def _send_json(send, status: int, body: dict, headers: list | None = None) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class ApiKeyAuth:
    def __init__(self, app, store: KeyStore | None = None):
        self.app = app
        self.store = store or KeyStore(settings.api_keys_path())

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return await self.app(scope, receive, send)
        needed = ROLE_OF_PATH.get(path, ROLES[-1])  # a path not listed is an admin's
        token = self._bearer(scope)
        record = self.store.lookup(token) if token else None
        if record is None:
            return await _send_json(
                send,
                401,
                {"error": "missing or unknown API key: send 'Authorization: Bearer <key>'"},
                [(b"www-authenticate", b'Bearer realm="f1-laptime"')],
            )
        if not allows(record.role, needed):
            logger.warning("key %s (%s) refused on %s: needs %s", record.key_id, record.role, path, needed)
            return await _send_json(
                send, 403, {"error": f"role {record.role!r} may not call {path}; it needs {needed!r}"}
            )
        scope.setdefault("state", {})["api_key_id"] = record.key_id
        return await self.app(scope, receive, send)

    @staticmethod
    def _bearer(scope) -> str | None:
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                return token.strip() if scheme.lower() == "bearer" and token.strip() else None
        return None


class UnprocessableInput:
    """BentoML answers a body that fails validation (malformed JSON included) with 400 and the
    failing fields; HTTP's name for "well-formed request, invalid content" is 422. These APIs take
    JSON only, so a body sent as a form (curl's default) is read as the JSON it is."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path") not in VALIDATED_PATHS:
            return await self.app(scope, receive, send)
        headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-type"]
        scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}

        async def send_422(message):
            if message["type"] == "http.response.start" and message["status"] == 400:
                message = {**message, "status": 422}
            await send(message)

        return await self.app(scope, receive, send_422)


class OpenApi31:
    """BentoML labels its schema OpenAPI 3.0.2, but the request and response schemas in it are
    pydantic's JSON Schema 2020-12 (`"type": "null"`, numeric `exclusiveMinimum`): OpenAPI 3.1.
    Clients and schemathesis validate against the label, so /docs.json is served labelled as
    what it holds.

    BentoML also inlines each response's schema keeping only the first branch of every
    top-level `anyOf` (`_bentoml_sdk.method._flatten_field`), so a field that may be null is
    published as never null. Its components hold the model's own schema, and the responses
    point there instead."""

    def __init__(self, app, service):
        self.app = app
        self.service = service
        self._body: bytes | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path") != "/docs.json":
            return await self.app(scope, receive, send)
        if self._body is None:
            from _bentoml_sdk.service.openapi import generate_spec

            spec = generate_spec(self.service, openapi_version="3.1.0").asdict()
            self._body = json.dumps(_responses_by_reference(spec)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(self._body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": self._body})


def _responses_by_reference(spec: dict) -> dict:
    """Each response schema that BentoML inlined from a component, replaced by a reference to it."""
    components = spec.get("components", {}).get("schemas", {})
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                for media in response.get("content", {}).values():
                    title = media.get("schema", {}).get("title")
                    if title in components and "properties" in media["schema"]:
                        media["schema"] = {"$ref": f"#/components/schemas/{title}"}
    return spec
