"""The prediction routes' OpenAPI document: response bodies and error statuses, rendered
from what the endpoints record (no 422: validation errors are 400)."""

from __future__ import annotations

from fastapi import FastAPI

from aiaas.web.docs import install_docs
from aiaas.web.routes import infer, openai, predict

ERRORS = {"400", "401", "403", "404", "409", "413", "429", "503", "default"}


def document() -> dict:
    app = FastAPI()
    routers = [predict.router, openai.router, infer.router]
    for router in routers:
        app.include_router(router)
    install_docs(app, routers)
    return app.openapi()


def schema_of(doc: dict, path: str, status: str) -> dict:
    return doc["paths"][path]["post"]["responses"][status]["content"]["application/json"]["schema"]


def test_each_prediction_route_documents_its_body_and_its_errors_in_its_shape() -> None:
    doc = document()
    shapes = {
        "/v1/models/{name}/predict": ("PredictResponse", "Error"),
        "/v1/embeddings": ("EmbeddingsResponse", "OpenAIError"),
        "/v2/models/{name}/infer": (None, "OipError"),
        "/v2/models/{name}/versions/{version}/infer": (None, "OipError"),
    }
    for path, (body, error) in shapes.items():
        responses = doc["paths"][path]["post"]["responses"]
        assert set(responses) >= ERRORS and "422" not in responses, path
        assert schema_of(doc, path, "404") == {"$ref": f"#/components/schemas/{error}"}
        if body is not None:
            assert schema_of(doc, path, "200") == {"$ref": f"#/components/schemas/{body}"}
    schemas = doc["components"]["schemas"]
    assert set(schemas["PredictResponse"]["properties"]) == {"model", "version", "task", "outputs"}
    assert "type" in schemas["OpenAIErrorDetail"]["properties"]
    assert "HTTPValidationError" not in schemas


def test_the_document_is_built_once() -> None:
    app = FastAPI()
    app.include_router(predict.router)
    install_docs(app, [predict.router])
    assert app.openapi() is app.openapi()
