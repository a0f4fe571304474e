"""Domain services: plain Python over the runtime and repositories; no HTTP, no boto3."""
