"""Plain Lambda handlers (no FastAPI): the authorizer, S3 and SQS consumers.

Each builds its services once, at cold start, from its function's settings.
"""
