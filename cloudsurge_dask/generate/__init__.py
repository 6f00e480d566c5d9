"""Generating structures: the one choke point that runs Surge or the built-in engine, its
options checked, its output formats."""
