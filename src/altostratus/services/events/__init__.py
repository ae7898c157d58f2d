"""What leaves the region about its events: the outbox of the events table, the RabbitMQ
event bus that publishes from it, and webhooks (``docs/events.md``)."""
