"""The GPU container's app (SageMaker bring-your-own-container inference); ``serve`` runs it.

Not a Lambda function: models whose runtime is ``gpu`` are forwarded here by PredictFunction
and BatchFunction (``aiaas.serving.gpu_client``). Logic lives in ``aiaas.gpu``.
"""

from aiaas.gpu.server import create_gpu_app

app = create_gpu_app()
