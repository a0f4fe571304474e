"""RegisterModelFunction: S3 uploads -> validated, quantized, profiled catalog versions."""

from aiaas.catalog.handler import handle as handler

__all__ = ["handler"]
