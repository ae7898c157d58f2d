"""Rules every domain shares: who may see and own what, events, tags, resource limits,
lookups by id, and the records of asynchronous jobs.
"""
