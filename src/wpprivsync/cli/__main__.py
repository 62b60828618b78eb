"""``python -m wpprivsync.cli`` runs the command line, like the ``wpprivsync`` script."""

from .main import main

main()
