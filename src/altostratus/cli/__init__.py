"""The ``alto`` command line (typer)."""
