"""Commands of ``services.infrastructure``: zones, pods, clusters, hosts, capacity."""
