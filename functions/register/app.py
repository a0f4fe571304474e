"""RegisterModelFunction: S3 uploads -> validated, quantized, profiled catalog versions."""

from aiaas.coldstart import init_phase

with init_phase():  # no garbage collection while importing (aiaas.coldstart)
    from aiaas.handlers.register import make_handler
    from aiaas.services import register_services
    from aiaas.settings import Settings

    handler = make_handler(register_services(Settings()))
