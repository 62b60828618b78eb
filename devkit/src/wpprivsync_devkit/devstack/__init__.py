"""Development stack: a real WordPress (system package + private MariaDB + PHP's built-in
server) for tests, the sandbox and people. See ``wordpress.WordPressStack`` and
``python -m wpprivsync_devkit.devstack --help``."""

from .mariadb import MariaDB
from .ports import free_port
from .processes import StackError
from .wordpress import WordPressStack

__all__ = ["MariaDB", "StackError", "WordPressStack", "free_port"]
