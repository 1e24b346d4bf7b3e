"""`python -m embedstack` runs the CLI."""

from embedstack.cli.main import main

main()
