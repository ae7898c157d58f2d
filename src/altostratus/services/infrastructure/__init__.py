"""The physical region: zones, pods, clusters and hosts, their capacity counters, host
monitoring and maintenance.
"""
