"""PredictFunction: the predictions API behind API Gateway (HTTP API, payload 2.0)."""

from mangum import Mangum

from aiaas.web.apps import create_predict_app

app = create_predict_app()
handler = Mangum(app, lifespan="off")
