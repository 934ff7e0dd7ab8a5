"""`python -m mu.generator` runs the `mu` command line."""

from mu.cli import main

main()
