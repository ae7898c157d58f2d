"""Commands of ``services.shared``: events, alerts, tags, resource limits."""
