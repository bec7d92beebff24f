"""The console's words for exports (operations)."""

from __future__ import annotations

EN: dict[str, str] = {
    "export.csv": "Export CSV",
    "export.xlsx": "Export XLSX",
}

ZH: dict[str, str] = {
    "export.csv": "导出 CSV",
    "export.xlsx": "导出 XLSX",
}
