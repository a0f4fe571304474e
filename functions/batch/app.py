"""BatchFunction: SQS chunk messages -> output rows (partial batch responses)."""

from aiaas.handlers.batch import make_handler
from aiaas.services import batch_services
from aiaas.settings import Settings

handler = make_handler(batch_services(Settings()))
