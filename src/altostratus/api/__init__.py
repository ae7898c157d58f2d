"""The CloudStack HTTP API: authentication, command dispatch, rendering. No business logic."""
