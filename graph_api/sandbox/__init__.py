"""A local stand-in for Facebook: the Graph API and the www login dialog (see README.md).

Standalone on purpose: it imports nothing from the apps or the rest of graph_api, so it can run
anywhere `make dev`, the tests or the benchmarks need it.
"""
