"""Tests of the event outbox, the RabbitMQ event bus and webhooks."""
