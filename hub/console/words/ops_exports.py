"""The console's words for exports (operations)."""

from __future__ import annotations

EN: dict[str, str] = {
    "export.csv": "Export CSV",
    "export.xlsx": "Export XLSX",
    "export.lines_csv": "Export lines CSV",
}

ZH: dict[str, str] = {
    "export.csv": "导出 CSV",
    "export.xlsx": "导出 XLSX",
    "export.lines_csv": "导出订单行 CSV",
}
