"""Commands of ``ha``: out-of-band management and host HA."""
