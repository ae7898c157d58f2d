"""The host agent: one process per hypervisor host (or many simulated hosts)."""
