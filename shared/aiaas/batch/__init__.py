"""Batch jobs: files in S3 scored row by row through SQS chunks, nothing lost."""
