"""Commands of ``services.compute``: VMs, key pairs, affinity groups."""
