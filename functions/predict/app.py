"""PredictFunction: the predictions API behind API Gateway (HTTP API, payload 2.0)."""

from mangum import Mangum

from aiaas.services import predict_services
from aiaas.settings import Settings
from aiaas.web.apps import create_predict_app

services = predict_services(Settings())
app = create_predict_app(services)
handler = Mangum(app, lifespan="off", api_gateway_base_path=services.settings.base_path)
