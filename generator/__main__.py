"""`python -m generator` runs the `mu` command line."""

from cli import main

main()
