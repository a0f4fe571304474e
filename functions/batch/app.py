"""BatchFunction: SQS chunk messages -> output rows (partial batch responses)."""

from aiaas.batch.worker import handle as handler

__all__ = ["handler"]
