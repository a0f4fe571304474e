"""BatchFunction: SQS chunk messages -> output rows (partial batch responses)."""

from aiaas.coldstart import init_phase

with init_phase():  # no garbage collection while importing (aiaas.coldstart)
    from aiaas.handlers.batch import make_handler
    from aiaas.services import batch_services
    from aiaas.settings import Settings

    services = batch_services(Settings())
    handler = make_handler(services)
