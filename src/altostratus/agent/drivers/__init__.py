"""Hypervisor drivers of the host agent: ``libvirt`` (real) and ``simulator``."""
