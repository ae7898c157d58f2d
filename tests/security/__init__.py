"""Unit tests of the cryptography in ``altostratus.security``."""
