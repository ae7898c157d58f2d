"""Cryptography: the key file, password hashes, request signatures and session tokens."""
