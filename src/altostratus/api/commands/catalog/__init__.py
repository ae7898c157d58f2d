"""Commands of ``services.catalog``: offerings, OS types and templates."""
