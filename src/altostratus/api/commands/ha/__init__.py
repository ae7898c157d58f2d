"""Commands of ``ha``: out-of-band management of hosts."""
