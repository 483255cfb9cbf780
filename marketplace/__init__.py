"""The marketplace: organisations, catalogue, licensing, usage, finance and the web UI."""
