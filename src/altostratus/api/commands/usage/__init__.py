"""Commands of ``services.usage``: CloudStack's usage API, and usage across regions."""
