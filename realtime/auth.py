"""Stream authentication: the session cookie, or ``Authorization: Token <key>``."""

from channels.auth import AuthMiddlewareStack

TokenOrSessionAuthMiddleware = AuthMiddlewareStack
