"""Domains, accounts, users, logins and API keys, and the region registry: the global
entities every region holds alike (``federation`` replicates them).
"""
