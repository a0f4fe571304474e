"""aiaas: the shared package every function imports (settings, domain, web)."""
