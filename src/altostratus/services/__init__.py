"""Business rules. Services take a ``ServiceContext`` and know nothing of HTTP."""
