"""FastAPI routers, dependencies and the error table; the functions' apps are built here."""

from aiaas.web.compat import lazy_pydantic_v1_probe

lazy_pydantic_v1_probe()  # before any route is declared (see aiaas.web.compat)
