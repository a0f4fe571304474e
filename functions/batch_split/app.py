"""BatchSplitFunction: S3 uploads (``uploads/``, ``inbox/``) -> chunks in S3 and SQS."""

from aiaas.coldstart import init_phase

with init_phase():  # no garbage collection while importing (aiaas.coldstart)
    from aiaas.handlers.batch_split import make_handler
    from aiaas.services import split_services
    from aiaas.settings import Settings

    handler = make_handler(split_services(Settings()))
