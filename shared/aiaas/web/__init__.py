"""FastAPI routers, dependencies and the error table; the functions' apps are built here."""
