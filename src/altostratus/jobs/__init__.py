"""Asynchronous jobs: submitted by requests, driven by any server's executor under a lease."""
