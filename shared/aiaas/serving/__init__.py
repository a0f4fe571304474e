"""Serving models registered in the catalog: verified weights from S3, sessions kept warm."""
