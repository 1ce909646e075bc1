"""One OpenAPI document for every app behind the front door, merged from the apps' own documents.

Each app's paths are put under its route prefix (`/` of the translation app at `/translate`, its
`/languages` at `/translate/languages`); its operations are tagged with the app's name and their
operationIds prefixed with it. Component schemas that are the same in two apps are kept once; a
name two apps use for different schemas gets the app's name in front (`SummarizationHealth`),
and every `$ref` follows. An app that did not give its document is named in the description.
"""

from __future__ import annotations

import asyncio
import copy
import json
from dataclasses import dataclass
from typing import Any

from apps.common.errors import ServiceBusyError
from apps.common.ray_adapter import AppsView, app_routes

SCHEMA_REF = "#/components/schemas/"


@dataclass(frozen=True)
class AppDocument:
    app: str
    route_prefix: str
    document: dict


def full_path(route_prefix: str, path: str) -> str:
    """A path of an app as it is reached from outside: its route prefix joined to the path."""
    prefix = route_prefix.rstrip("/")
    if path == "/":
        return prefix or "/"
    return prefix + path


def _renamed_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(SCHEMA_REF):
                name = value.removeprefix(SCHEMA_REF)
                out[key] = SCHEMA_REF + renames.get(name, name)
            else:
                out[key] = _renamed_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_renamed_refs(item, renames) for item in node]
    return node


def _prefixed_name(app: str, name: str) -> str:
    return "".join(word.capitalize() for word in app.replace("-", "_").split("_")) + name


def _schema_renames(app: str, schemas: dict[str, dict], merged: dict[str, dict]) -> dict[str, str]:
    """The names of `app`'s schemas that clash with different merged ones, and their new names.
    Repeated until nothing changes: renaming a schema changes the schemas that refer to it."""
    renames: dict[str, str] = {}
    while True:
        clashing = {
            name
            for name, schema in schemas.items()
            if name not in renames and name in merged and merged[name] != _renamed_refs(schema, renames)
        }
        if not clashing:
            return renames
        renames.update({name: _prefixed_name(app, name) for name in clashing})


def merge_documents(
    parts: list[AppDocument], *, title: str, description: str, version: str, missing: dict[str, str]
) -> dict:
    """One OpenAPI 3.1 document of `parts` (each an app's own document and route prefix);
    `missing` names the apps whose documents could not be had, and why."""
    paths: dict[str, dict] = {}
    schemas: dict[str, dict] = {}
    security_schemes: dict[str, dict] = {}
    tags = []
    for part in parts:
        document = part.document
        components = document.get("components", {})
        renames = _schema_renames(part.app, components.get("schemas", {}), schemas)
        for name, schema in components.get("schemas", {}).items():
            schemas.setdefault(renames.get(name, name), _renamed_refs(schema, renames))
        security_schemes.update(components.get("securitySchemes", {}))
        for path, operations in document.get("paths", {}).items():
            merged_operations = paths.setdefault(full_path(part.route_prefix, path), {})
            for method, operation in _renamed_refs(operations, renames).items():
                operation = copy.deepcopy(operation)
                operation["tags"] = operation.get("tags") or [part.app]  # its own (LibreTranslate)
                if "operationId" in operation:
                    operation["operationId"] = f"{part.app}_{operation['operationId']}"
                merged_operations[method] = operation
        info = document.get("info", {})
        about = f"{info.get('title', part.app)}: {info.get('description', '')}"
        tags.append({"name": part.app, "description": about})
        tags.extend(document.get("tags", []))  # the app's own tags, described
    if missing:
        gone = "; ".join(f"{app} ({why})" for app, why in sorted(missing.items()))
        description += f"\n\nNot in this document, as their documents could not be had: {gone}."
    merged: dict[str, Any] = {
        "openapi": parts[0].document.get("openapi", "3.1.0") if parts else "3.1.0",
        "info": {"title": title, "description": description, "version": version},
        "tags": tags,
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items()))},
    }
    if security_schemes:
        merged["components"]["securitySchemes"] = security_schemes
    return json.loads(json.dumps(merged))  # plain JSON types only


async def serve_apps(max_age_s: float, timeout_s: float) -> AppsView:
    """Each running app's route prefix and last deploy time, as Serve's controller held them at
    most `max_age_s` ago. ServiceBusyError (503) if it does not answer within `timeout_s`."""
    try:
        return await app_routes(max_age_s, timeout_s)
    except asyncio.TimeoutError:
        raise ServiceBusyError(f"Serve's controller did not answer in {timeout_s:g} s; retry later") from None


def route_prefixes(view: AppsView) -> dict[str, str]:
    return {name: prefix for name, prefix, _ in view}
