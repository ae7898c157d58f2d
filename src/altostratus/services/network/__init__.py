"""Shared guest networks, public addresses and security groups."""
