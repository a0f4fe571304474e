"""CatalogFunction: the model catalog and Open Inference Protocol metadata (FastAPI + Mangum)."""

from mangum import Mangum

from aiaas.settings import get_settings
from aiaas.web.apps import create_catalog_app

app = create_catalog_app()
handler = Mangum(app, lifespan="off", api_gateway_base_path=get_settings().base_path)
