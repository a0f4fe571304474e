"""CatalogFunction: the model catalog and Open Inference Protocol metadata (FastAPI + Mangum)."""

from aiaas.coldstart import init_phase

with init_phase():  # no garbage collection while importing (aiaas.coldstart)
    from mangum import Mangum

    from aiaas.services import catalog_services
    from aiaas.settings import Settings
    from aiaas.web.apps import create_catalog_app

    services = catalog_services(Settings())
    app = create_catalog_app(services)
    handler = Mangum(app, lifespan="off", api_gateway_base_path=services.settings.base_path)
