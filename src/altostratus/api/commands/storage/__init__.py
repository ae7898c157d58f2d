"""Commands of ``services.storage``: volumes and snapshots."""
