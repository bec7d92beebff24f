"""The README's screenshots are the browser tests' own: every image it shows or links under
``docs/screenshots/`` exists and is one a test in ``tests/e2e`` saves with ``shot(page, name)``,
so a CI run refreshes exactly what the README shows."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_readme_screenshot_exists_and_a_browser_test_saves_it() -> None:
    shown = set(re.findall(r"docs/screenshots/([\w-]+)\.png", (ROOT / "README.md").read_text(encoding="utf-8")))
    saved = {name for path in (ROOT / "tests" / "e2e").glob("test_*.py")
             for name in re.findall(r"""shot\(\s*\w+,\s*["']([\w-]+)["']""", path.read_text(encoding="utf-8"))}
    assert shown, "the README shows the console"
    assert shown <= saved, f"no browser test saves {sorted(shown - saved)}"
    missing = sorted(name for name in shown if not (ROOT / "docs" / "screenshots" / f"{name}.png").is_file())
    assert not missing, f"the README shows screenshots that are not in docs/screenshots: {missing}"
