"""The OpenAPI document, with the errors Rill really answers.

FastAPI documents validation errors as its own ``HTTPValidationError`` in
``application/json``; Rill answers every error as RFC 9457 problem+json (the
``/v1`` routes in their protocol's own error shape, which they declare
themselves). This rewrites the generated document once, so the web app's
generated client types errors as they arrive, and adds what FastAPI cannot
know: the security schemes, and the schema of every event stream's events.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from rill.http.identity import current_user
from rill.http.openapi_schemas import SCHEMAS, SECURITY_SCHEMES

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem document.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}

_TITLES = {
    "400": "Bad request (for example, a body that is not JSON)",
    "401": "No or invalid credentials",
    "403": "Authenticated, but not allowed",
    "404": "Not found, or not yours",
    "409": "The current state does not allow it",
    "413": "Body or field too large",
    "422": "Invalid input",
    "429": "A per-user limit is reached; see Retry-After",
    "503": "A dependency (store, broker, provider) is unavailable, or shutting down",
}


def _signed_in_paths(app: FastAPI) -> set[str]:
    """Paths whose routes need a signed-in caller: read from their dependencies, so a
    new public route (``/api/limits``) is never declared as needing a token, nor the
    reverse (the fuzzing suite checks the document against the server)."""

    def needs(dependant: Dependant) -> bool:
        return any(d.call is current_user or needs(d) for d in dependant.dependencies)

    def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            # FastAPI ≥ 0.16x keeps an included router whole behind a wrapper.
            included = getattr(route, "original_router", None)
            if included is not None:
                yield from api_routes(included.routes)

    return {r.path for r in api_routes(app.routes) if needs(r.dependant)}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def operation_id(route: APIRoute) -> str:
    """``send_message`` → ``sendMessage``: what generated clients name their methods."""
    head, *rest = route.name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _event_stream_schema(operation: dict[str, Any]) -> None:
    """Give an event stream the chat events' schema (FastAPI can only say ``string``)."""
    for response in operation.get("responses", {}).values():
        stream = response.get("content", {}).get("text/event-stream")
        if stream is not None and stream.get("schema", {}).get("$ref") is None:
            stream["schema"] = {"$ref": "#/components/schemas/ChatEvent"}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        components = document.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["Problem"] = PROBLEM_SCHEMA
        schemas.update(SCHEMAS)
        components["securitySchemes"] = SECURITY_SCHEMES
        signed_in = _signed_in_paths(app)
        for path, operations in document.get("paths", {}).items():
            for operation in operations.values():
                _event_stream_schema(operation)
                if path.startswith("/v1/"):
                    # Their routes declare their own errors; invalid input is their 400.
                    operation["security"] = [{"apiKey": []}, {"bearerAuth": []}]
                    operation["responses"].pop("422", None)
                    continue
                if path in signed_in:
                    operation["security"] = [{"bearerAuth": []}]
                responses = operation.setdefault("responses", {})
                statuses = ["400", "413", "422", "503"]
                if path in signed_in:
                    statuses += ["401", "403", "404"]
                if path.startswith("/api/chat") or path.startswith("/api/conversations"):
                    statuses += ["409", "429"]
                for status in statuses:
                    responses[status] = _problem(_TITLES[status])
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
