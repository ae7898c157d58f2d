"""High availability inside a region: server membership and singleton work under leases."""
