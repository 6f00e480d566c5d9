"""Shared fixtures live in one module per real component (all under tests/)."""

pytest_plugins = ["fixture_redis", "fixture_gcs"]
