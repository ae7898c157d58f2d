"""The server's side of host agents: registration, heartbeats, commands, power states, and
the in-process fleet of simulated hosts.

It sits above compute and infrastructure: an agent's report moves both hosts and VMs.
"""
