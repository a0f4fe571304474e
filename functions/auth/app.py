"""AuthFunction: signup, login, API keys and usage behind API Gateway (HTTP API)."""

from aiaas.coldstart import init_phase

with init_phase():  # no garbage collection while importing (aiaas.coldstart)
    from mangum import Mangum

    from aiaas.services import auth_services
    from aiaas.settings import Settings
    from aiaas.web.apps import create_auth_app

    services = auth_services(Settings())
    app = create_auth_app(services)
    handler = Mangum(app, lifespan="off", api_gateway_base_path=services.settings.base_path)
