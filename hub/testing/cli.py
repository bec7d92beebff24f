"""Running the ``hub`` command in tests: one Typer runner and an environment without the hub's
own variables, so a test's ``--config`` (or none) is all the command reads.

Import ``clean_environment`` into a test module (it is autouse there) and invoke through
``runner``. Not for starting hubs or seeding databases (``hub.testing.hub``, the factories).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

#: The variables a developer's shell may set that would point the command elsewhere.
HUB_VARIABLES = ("HUB_CONFIG", "HUB_DATABASE_URL", "HUB_REDIS_URL")

runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Unset ``HUB_VARIABLES`` for the test; the original environment comes back afterwards."""
    for name in HUB_VARIABLES:
        monkeypatch.setenv(name, "")  # recorded, so the original environment comes back afterwards
        monkeypatch.delenv(name)
    yield
