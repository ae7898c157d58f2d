"""Tests of the webhook commands."""
