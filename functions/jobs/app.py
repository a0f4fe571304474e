"""JobsFunction: the batch jobs API behind API Gateway (HTTP API, payload 2.0)."""

from mangum import Mangum

from aiaas.settings import get_settings
from aiaas.web.apps import create_jobs_app

app = create_jobs_app()
handler = Mangum(app, lifespan="off", api_gateway_base_path=get_settings().base_path)
