"""The ``wpprivsync`` command: a thin layer over the services."""
