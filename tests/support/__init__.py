"""Test harness: real PostgreSQL, real servers, a signing API client."""
