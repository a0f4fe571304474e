"""AuthFunction: signup, login, API keys and usage behind API Gateway (HTTP API)."""

from mangum import Mangum

from aiaas.settings import get_settings
from aiaas.web.apps import create_auth_app

app = create_auth_app()
handler = Mangum(app, lifespan="off", api_gateway_base_path=get_settings().base_path)
