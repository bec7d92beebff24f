"""The console's pages load only the hub's own files: every script and stylesheet a template names
is under ``/console/static`` and exists, nothing comes from another site, and each vendored
library is noted (package, version, licence, checksum) in ``static/vendor/README.md`` with its
licence file beside it, unchanged since it was copied."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

CONSOLE = Path(__file__).resolve().parents[2] / "hub" / "console"
VENDOR = CONSOLE / "static" / "vendor"
ROW = re.compile(r"^\| `([^`]+)` \| `([^`]+)` \| ([\w.]+) \| `([^`]+)` \| `([^`]+)` \([^)]+\) \| `([0-9a-f]{64})` \|$")


def _rows() -> dict[str, tuple[str, str, str, str, str]]:
    found = [ROW.match(line) for line in (VENDOR / "README.md").read_text(encoding="utf-8").splitlines()]
    return {m.group(1): (m.group(2), m.group(3), m.group(4), m.group(5), m.group(6)) for m in found if m}


def test_templates_load_only_the_hubs_own_files_and_they_exist() -> None:
    for template in (CONSOLE / "templates").glob("*.html"):
        text = template.read_text(encoding="utf-8")
        for address in re.findall(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)=["']([^"']+)""", text):
            assert address.startswith("/console/static/"), f"{template.name} loads {address}"
            assert (CONSOLE / "static" / address.removeprefix("/console/static/")).is_file(), address
        assert not re.search(r"""(?:src|href)=["'](?:https?:)?//""", text), f"{template.name} names another site"


def test_every_vendored_file_is_noted_with_its_licence_and_unchanged() -> None:
    rows = _rows()
    scripts = {path.name for path in VENDOR.glob("*.js")}
    assert scripts and scripts == set(rows), "every vendored script has a row in vendor/README.md, and no more"
    for name, (_package, version, _inside, licence, sha256) in rows.items():
        assert version in name, f"{name} carries its version {version} in its name"
        assert (VENDOR / licence).is_file(), f"{name}'s licence {licence} is beside it"
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == sha256, f"{name} changed since vendoring"
