"""Local evaluate module directory: evaluate.load(<this directory>) runs e2e.py."""
