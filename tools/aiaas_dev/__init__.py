"""aiaas_dev: the local stack behind ``make run``, without Docker.

``python -m aiaas_dev serve`` reads ``template.yaml`` and serves its HttpApi routes on
loopback the way ``sam local start-api`` would: API Gateway HTTP API (payload 2.0) events,
handlers imported in-process from ``CodeUri`` + ``Handler``, AWS calls sent to moto.
``aiaas_dev.events.build_event`` builds the same events for tests and benchmarks.
"""
