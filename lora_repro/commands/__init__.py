"""Small commands that belong to no single subpackage."""
