"""PredictFunction: the predictions API behind API Gateway (HTTP API, payload 2.0).

The services come first: building them starts opening the preloaded models
(``AIAAS_PRELOAD_MODELS``) in the background, beside the web stack's imports below.
"""

from aiaas.coldstart import init_phase

with init_phase():  # no garbage collection while importing (aiaas.coldstart)
    from aiaas.services import predict_services
    from aiaas.settings import Settings

    services = predict_services(Settings())

    from mangum import Mangum

    from aiaas.web.apps import create_predict_app

    app = create_predict_app(services)
    handler = Mangum(app, lifespan="off", api_gateway_base_path=services.settings.base_path)
