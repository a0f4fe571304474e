"""DriftFunction: hourly, each captured version's new window against its baseline."""

from aiaas.coldstart import init_phase

with init_phase():  # no garbage collection while importing (aiaas.coldstart)
    from aiaas.handlers.drift import make_handler
    from aiaas.services import drift_services
    from aiaas.settings import Settings

    handler = make_handler(drift_services(Settings()))
