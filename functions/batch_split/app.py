"""BatchSplitFunction: S3 uploads (``uploads/``, ``inbox/``) -> chunks in S3 and SQS."""

from aiaas.batch.handlers import split as handler

__all__ = ["handler"]
