"""Training as a service: a CSV in, a tuned, evaluated model READY in the catalog out.

`records` (jobs, the search space), `table` (reading and profiling the CSV), `store`
(DynamoDB) and `service` (the jobs API) import no scikit-learn; `search` does, and only
TrainingFunction's steps (`worker`) import it.
"""
