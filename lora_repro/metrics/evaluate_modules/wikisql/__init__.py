"""Local evaluate module directory: evaluate.load(<this directory>) runs wikisql.py."""
