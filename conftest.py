# The shared fixtures and hooks live in tests/plugin.py, for tests/ and for the tests beside
# each source (integrations/sources/*/tests/).
pytest_plugins = ["tests.plugin"]
