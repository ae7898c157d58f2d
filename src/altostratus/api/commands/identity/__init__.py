"""Commands of ``services.identity``: sessions, domains, accounts, users, regions."""
