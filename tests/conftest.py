"""Hypothesis settings for the hub's own tests: reproducible, and blind to the machine's speed.

The default profile, ``ci``, has no deadline (a loaded CI box must not fail an example for being
slow: timing is never what these properties check) and is derandomised (the examples follow from
the test's code, so a red run is red again on the same commit, on any machine, and a green run
cannot turn red on a rerun). It keeps no example database, which CI would throw away anyway. To
hunt for new counter-examples, run ``pytest --hypothesis-profile=explore`` (random, remembered in
``.hypothesis/``), and turn what it finds into an ``@example`` or a table test.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", deadline=None, derandomize=False, max_examples=500)
settings.load_profile("ci")
