"""Platform pieces every layer above the database uses without importing services: the
caller and service context, wake-up signals, leases, paging, private files.
"""
