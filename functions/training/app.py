"""TrainingFunction: training datasets' S3 events and the training queue's steps."""

from aiaas.coldstart import init_phase

with init_phase():  # no garbage collection while importing (aiaas.coldstart)
    from aiaas.handlers.training import make_handler
    from aiaas.services import training_services
    from aiaas.settings import Settings

    services = training_services(Settings())
    handler = make_handler(services)
