"""TrainingFunction: training datasets' S3 events and the training queue's steps."""

from aiaas.handlers.training import make_handler
from aiaas.services import training_services
from aiaas.settings import Settings

services = training_services(Settings())
handler = make_handler(services)
