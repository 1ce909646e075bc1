"""The front door's OpenAPI document (apps/router/api_document.py): the running apps' documents
merged, every operation answering at its path; and the merging rules on documents that clash."""

import importlib

from apps.router.api_document import AppDocument, full_path, merge_documents

ROUTES = {
    ("post", "/"),
    ("get", "/healthz"),
    ("post", "/hf/translation"),
    ("post", "/hf/summarization"),
    ("post", "/translate"),
    ("get", "/translate/languages"),
    ("post", "/translate/detect"),
    ("post", "/summarize"),
    ("post", "/libretranslate/translate"),
    ("post", "/libretranslate/detect"),
    ("get", "/libretranslate/languages"),
    ("get", "/libretranslate/frontend/settings"),
    ("post", "/libretranslate/translate_file"),
    ("get", "/libretranslate/download_file/{name}"),
    ("post", "/translate/file"),
}
OWN_DOCUMENTS = {"translation": "/translate", "summarization": "/summarize"}


def operations(document: dict) -> set[tuple[str, str]]:
    return {(method, path) for path, ops in document["paths"].items() for method in ops}


def refs(node) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(item) for item in node))
    return set()


def test_one_document_lists_every_route_of_every_app(http):
    document = http.get("/openapi.json").json()
    assert operations(document) == ROUTES
    tags = ["router", "LibreTranslate", "translation", "summarization"]  # LibreTranslate's: the router's
    assert [tag["name"] for tag in document["tags"]] == tags
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    schemas = document["components"]["schemas"]
    assert {ref.removeprefix("#/components/schemas/") for ref in refs(document)} <= set(schemas)
    assert "Not in this document" not in document["info"]["description"]


def test_the_merged_schemas_are_the_apps_own(http):
    merged = http.get("/openapi.json").json()
    for app, prefix in OWN_DOCUMENTS.items():
        own = http.get(f"{prefix}/openapi.json").json()  # each app keeps its own document
        module = importlib.import_module(f"apps.{app}.app")
        assert own["paths"] == module.http_app.openapi()["paths"]
        for path, ops in own["paths"].items():
            for method, operation in ops.items():
                merged_operation = merged["paths"][full_path(prefix, path)][method]
                assert (
                    merged_operation["requestBody" if method == "post" else "responses"]
                    == (operation["requestBody" if method == "post" else "responses"])
                )
        for name, schema in own["components"]["schemas"].items():
            assert merged["components"]["schemas"][name] == schema


def example_request(document: dict, operation: dict) -> dict:
    """A valid request for a POST operation (httpx's arguments): a JSON body whose schema takes
    `inputs`, `text` or (in LibreTranslate's, written out in the operation) `q`; an upload's
    multipart form with a text file; none for one that reads no body."""
    if "requestBody" not in operation:
        return {}
    content = operation["requestBody"]["content"]
    if "multipart/form-data" in content:
        return {"files": {"file": ("notes.txt", b"Hello world!")}, "data": {"source": "en", "target": "fr"}}
    schema = content["application/json"]["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    properties = schema["properties"]
    if "q" in properties:
        body = {"q": "Hello world!", **({"source": "en", "target": "fr"} if "target" in properties else {})}
    else:
        body = {"inputs": "Hello world!"} if "inputs" in properties else {"text": "Hello world!"}
    return {"json": body}


def test_every_operation_answers_at_its_path(http):
    document = http.get("/openapi.json").json()
    made = None  # the URL a translated file is downloaded from (POST /libretranslate/translate_file)
    for path, ops in sorted(document["paths"].items(), key=lambda item: "{" in item[0]):
        for method, operation in ops.items():
            if method == "get":
                response = http.get(made if "{name}" in path else path)
            else:
                response = http.post(path, **example_request(document, operation))
                made = response.json().get("translatedFileUrl", made) if path.endswith("_file") else made
            assert response.status_code == 200, (method, path, response.text)
            assert str(response.status_code) in operation["responses"]


def test_docs_pages_load_their_assets_from_the_app(http):
    for prefix in ("", "/translate", "/summarize"):
        page = http.get(f"{prefix}/docs").text
        assert f"url: '{prefix}/openapi.json'" in page and "https://" not in page
        assert http.get(f"{prefix}/static/docs/swagger-ui-bundle.js").status_code == 200
        redoc = http.get(f"{prefix}/redoc").text
        assert f"{prefix}/static/docs/redoc.standalone.js" in redoc and "https://" not in redoc


# ---- merging rules (no cluster) ------------------------------------------------------------


def _document(title: str, schemas: dict, paths: dict) -> dict:
    return {"openapi": "3.1.0", "info": {"title": title}, "paths": paths, "components": {"schemas": schemas}}


def _post(ref: str) -> dict:
    body = {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}
    return {"post": {"operationId": "run", "requestBody": body, "responses": {}}}


def _ref(document: dict, path: str) -> str:
    return document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]


def test_a_name_two_apps_use_for_different_schemas_is_kept_apart():
    error = {"type": "object", "properties": {"error": {"type": "string"}}}
    number = {"type": "object", "properties": {"n": {"type": "integer"}}}
    wrapper = {"$ref": "#/components/schemas/Body"}
    first = _document("a", {"Error": error, "Body": number, "Wrapper": wrapper}, {"/": _post("Wrapper")})
    # b's Body differs, so its Wrapper, the same text as a's, points at a different schema too
    other = {"type": "object", "properties": {"s": {"type": "string"}}}
    second = _document(
        "b",
        {"Error": error, "Body": other, "Wrapper": wrapper},
        {"/": _post("Wrapper"), "/more": _post("Body")},
    )
    third = _document("c", {"Body": number, "Wrapper": wrapper}, {"/x": _post("Wrapper")})  # as a's
    merged = merge_documents(
        [
            AppDocument("app_a", "/", first),
            AppDocument("long-b", "/b", second),
            AppDocument("c", "/c", third),
        ],
        title="t",
        description="d",
        version="1",
        missing={"gone": "not deployed"},
    )
    schemas = merged["components"]["schemas"]
    assert set(schemas) == {"Error", "Body", "Wrapper", "LongBBody", "LongBWrapper"}
    assert schemas["LongBWrapper"] == {"$ref": "#/components/schemas/LongBBody"}
    assert schemas["Wrapper"] == wrapper and schemas["Body"] == number and schemas["LongBBody"] == other
    assert _ref(merged, "/b") == "#/components/schemas/LongBWrapper"
    assert _ref(merged, "/b/more") == "#/components/schemas/LongBBody"
    assert _ref(merged, "/c/x") == _ref(merged, "/") == "#/components/schemas/Wrapper"
    assert set(merged["paths"]) == {"/", "/b", "/b/more", "/c/x"}
    assert merged["paths"]["/b"]["post"]["operationId"] == "long-b_run"
    assert merged["paths"]["/b"]["post"]["tags"] == ["long-b"]
    assert merged["info"]["description"].endswith("could not be had: gone (not deployed).")


def test_paths_join_their_route_prefix():
    assert full_path("/", "/") == "/"
    assert full_path("/", "/healthz") == "/healthz"
    assert full_path("/translate", "/") == "/translate"
    assert full_path("/translate/", "/languages") == "/translate/languages"
