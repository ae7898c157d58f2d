"""Usage metering (``docs/usage.md``): what each account used, per period, from the
state changes the region already records."""
