"""ChatFunction: OpenAI's chat, completions and transcriptions behind API Gateway (HTTP API).

The chat and speech built-ins, on the same prediction service as PredictFunction, in a
function of their own (memory for the generative models; a generation does not hold up
predictions).
"""

from aiaas.coldstart import init_phase

with init_phase():  # no garbage collection while importing (aiaas.coldstart)
    from aiaas.services import chat_services
    from aiaas.settings import Settings

    services = chat_services(Settings())

    from mangum import Mangum

    from aiaas.web.apps import create_chat_app

    app = create_chat_app(services)
    handler = Mangum(app, lifespan="off", api_gateway_base_path=services.settings.base_path)
