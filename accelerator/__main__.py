"""``python -m accelerator`` runs the CLI."""

from accelerator.cli import main

main()
