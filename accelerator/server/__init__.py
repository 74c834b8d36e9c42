"""The web server: the app factory, the lifespan that opens the services, and how handlers get
them (Litestar dependencies). The one place that knows Litestar's application state."""

from accelerator.server.app import create_app, runtime_of

__all__ = ["create_app", "runtime_of"]
