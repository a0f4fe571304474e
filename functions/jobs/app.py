"""JobsFunction: the batch jobs API behind API Gateway (HTTP API, payload 2.0)."""

from aiaas.coldstart import init_phase

with init_phase():  # no garbage collection while importing (aiaas.coldstart)
    from mangum import Mangum

    from aiaas.services import jobs_services
    from aiaas.settings import Settings
    from aiaas.web.apps import create_jobs_app

    services = jobs_services(Settings())
    app = create_jobs_app(services)
    handler = Mangum(app, lifespan="off", api_gateway_base_path=services.settings.base_path)
