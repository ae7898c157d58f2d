"""Commands about the cloud itself: API discovery, async jobs, management servers and
replication status.
"""
