"""ASGI middlewares of the server: body limit, observability."""
