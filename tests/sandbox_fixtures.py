"""Pytest fixtures that start the Graph sandbox on a free local port (filled in by the Graph issue)."""
