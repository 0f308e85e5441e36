"""``python -m roster_sandbox``: the same as the roster-sandbox command."""

from roster_sandbox.cli import main

main()
