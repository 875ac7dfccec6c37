"""Local evaluate module directory: evaluate.load(<this directory>) runs glue.py."""
