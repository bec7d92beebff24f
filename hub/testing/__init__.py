"""``hub.testing``: a pytest plugin (entry point ``pytest11``) for the hub's tests and plugin authors.

Registers the database fixtures (``database_url``, ``database``, …) from ``hub.testing.db``.
"""

from hub.testing.db import *  # noqa
