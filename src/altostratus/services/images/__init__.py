"""The region's image stores: where templates' bytes live, and how they get there."""
