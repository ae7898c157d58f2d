"""Commands of ``services.shared``: events, tags, resource limits."""
