"""VMs: deploy, placement, the life cycle and its jobs, key pairs and affinity groups."""
