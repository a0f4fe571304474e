"""The GPU container (SageMaker bring-your-own-container): models forwarded by the functions.

``server`` is the HTTP app (``/ping``, ``/invocations``), ``models`` loads verified weights
into sessions with one dynamic batcher each, ``fp16`` makes and gates fp16 variants,
``runtime`` picks execution providers. ``python -m aiaas.gpu`` serves it with uvicorn.
Imports onnx (fp16 conversion) and boto3: the container ships both; no Lambda imports this.
"""
