"""Federation: global identity replicated between regions (see docs/federation.md)."""
