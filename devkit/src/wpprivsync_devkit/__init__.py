"""wpprivsync's development kit: everything needed to try and test wpprivsync on one machine,
and nothing the daemon needs to run.

- ``devstack``: a real WordPress + MariaDB (+ PostgreSQL) stack started in a temporary
  directory (``python -m wpprivsync_devkit.devstack --help``);
- ``acfake``: the local ActiveCampaign server that follows the v3 contract;
- ``wjfake``: the local WebinarJam server;
- ``sandbox``: the whole system with fake people and a short story (``wpprivsync sandbox``,
  registered through the ``wpprivsync.commands`` entry point group).
"""

__version__ = "0.1.0"  # the same as wpprivsync's (tests/test_version.py checks)
