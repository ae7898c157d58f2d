"""Commands of ``services.network``: networks, addresses, security groups."""
