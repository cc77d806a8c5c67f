"""`python -m graph_api.sandbox --port 8765 ...`: see README.md beside this file."""

from .cli import main

main()
