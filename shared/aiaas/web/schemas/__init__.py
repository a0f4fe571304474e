"""Request and response bodies of the HTTP API, as pydantic models (they become its OpenAPI).

One module per resource (``catalog``...), like the FastAPI template's ``models.py``: the
``New...`` and ``...Changes`` models are request bodies, read raw by the routes
(``aiaas.web.body``); the others are response bodies.
"""
