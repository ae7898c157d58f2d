"""Commands of ``services.events``: webhooks and their deliveries."""
