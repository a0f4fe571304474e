"""The inference seam: every model behind one interface, found by one resolver, run by one
prediction service.

- `aiaas.serving.resolver`: ``(caller, name, version)`` -> a `ServedModel` (the layer's
  built-ins without any AWS call; catalog versions from a short-TTL record cache).
- `aiaas.serving.loader`: a catalog version -> a runtime `Model` (verified S3 weights and an
  onnxruntime session, or a runner that forwards tensors to the GPU container).
- `aiaas.serving.predictions`: resolve -> validate -> meter and quota -> run -> time.
"""
