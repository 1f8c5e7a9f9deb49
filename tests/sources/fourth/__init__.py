"""A fourth source that exists only for the tests: a JSON feed file read like a service.

It is everything a new source brings: its connector (fetch and normalize, importing only the
contract), its configuration section, and its hooks (a command and an HTTP route). The tests
register it through :func:`syncd.sources.registry.register_source`.
"""
