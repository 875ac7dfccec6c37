"""Grid runner: a table spec expanded into cells, run in dependency order, skipping the done ones."""
