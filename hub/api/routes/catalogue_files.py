"""The catalogue CSV over HTTP, as ``hub catalogue import`` and ``export`` do it:
``POST /api/v1/catalogue/import`` (the file as a ``text/csv`` body or the multipart part ``file``;
``?dry_run=true`` checks only) writes every row in one transaction or none — a bad file is 422
naming each bad row and field; a column the file leaves out keeps each existing SKU's value — and
``GET /api/v1/catalogue/export`` answers the whole catalogue in the same columns, so export then
import changes nothing. Importing needs ``catalogue.write``
(attributed ``import:<file>`` by the key), exporting ``stock.read``. The body is bounded by
``[limits] import_body_bytes``. Not for single SKUs (``hub.api.routes.skus``).
"""

from __future__ import annotations

import csv
import io

import structlog
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError, ErrorBody
from hub.api.params import MAX_TEXT
from hub.api.routes.stock_imports import PROBLEMS_SHOWN, _clean_filename, _uploaded_file
from hub.services import catalogue

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/catalogue", tags=["catalogue"])


class CatalogueImported(BaseModel):
    rows: int = Field(description="Rows in the file (all valid).")
    created: int = Field(description="SKUs added (0 with dry_run).")
    updated: int = Field(description="SKUs replaced by their row (0 with dry_run).")
    shops_to_push: int = Field(description="Shops whose listings of these SKUs are pushed again.")
    dry_run: bool


_UPLOAD_BODY = {
    "required": True,
    "description": "The catalogue file, UTF-8: columns " + ", ".join(catalogue.CSV_COLUMNS)
                   + " (only merchant_sku is required; components as SKU*QTY;SKU*QTY).",
    "content": {
        "text/csv": {"schema": {"type": "string"},
                     "example": "merchant_sku,name,components\nMUG,Mug,\nGIFT,Gift set,MUG*2\n"},
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary", "description": "The CSV file."}}}},
    },
}


def _refused(exc: catalogue.CatalogueImportError) -> ApiError:
    problems = [{"row": p.where, "field": p.field, "message": p.message} for p in exc.problems[:PROBLEMS_SHOWN]]
    return ApiError(422, "invalid_file", {"summary": str(exc), "problems": problems,
                                          "problems_total": len(exc.problems)}, field=exc.problems[0].field)


def _unreadable(text: str, exc: csv.Error | None = None) -> ApiError:
    """A file the csv module cannot read (a bare carriage return inside an unquoted field, a field
    longer than it takes) or one holding a NUL (the database refuses it in any text): 422 naming
    the line, found by reading the file again up to where it breaks."""
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        return ApiError(422, "invalid_file", f"line {line}: contains a NUL character: is it really a CSV file?",
                        field="body")
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        for _ in reader:
            pass
    except csv.Error as again:
        exc = again
    reason = str(exc) if exc is not None else "not readable as CSV"
    if "new-line character" in reason:
        reason = ("a line break (a bare carriage return) inside an unquoted field: quote the field, or save the "
                  "file with one kind of line ending")
    return ApiError(422, "invalid_file", f"line {reader.line_num or 1}: not readable as CSV: {reason}",
                    field="body")


@router.post("/import", response_model=CatalogueImported, summary="Import a catalogue CSV: all rows or none",
             openapi_extra={"requestBody": _UPLOAD_BODY},
             responses={415: {"model": ErrorBody, "description": "The body is neither text/csv nor "
                                                                 "multipart/form-data (unsupported_media_type)."},
                        422: {"model": ErrorBody, "description": "A bad file (invalid_file): nothing written; "
                                                                 "detail.problems lists each bad row and field."}})
async def import_catalogue(
    request: Request, principal: Principal = Depends(require(Permission.CATALOGUE_WRITE)),
    dry_run: bool = Query(False, description="Check every row; write nothing."),
    filename: str | None = Query(None, max_length=MAX_TEXT, description="A name for a text/csv body."),
) -> CatalogueImported:
    data, uploaded_name = await _uploaded_file(request)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, "invalid_file", "the catalogue file must be UTF-8", field="body") from None
    if not text.strip():
        raise ApiError(422, "invalid_file", "the file is empty", field="body")
    if "\x00" in text:
        raise _unreadable(text)
    name = _clean_filename(uploaded_name or filename or "catalogue.csv")
    hub = get_hub(request)
    try:
        drafts, labels = await catalogue.check_catalogue_file(hub, text)
        report = await catalogue.import_catalogue(hub, drafts, labels, actor=f"import:{name}"[:100],
                                                  dry_run=dry_run)
    except catalogue.CatalogueImportError as exc:
        raise _refused(exc) from exc
    except csv.Error as exc:
        raise _unreadable(text, exc) from exc
    log.info("catalogue.imported", file=name, rows=len(drafts), created=report.created, updated=report.updated,
             dry_run=dry_run, by=principal.actor)
    return CatalogueImported(rows=len(drafts), created=report.created, updated=report.updated,
                             shops_to_push=len(report.shops), dry_run=dry_run)


@router.get("/export", response_class=PlainTextResponse, summary="The whole catalogue as CSV",
            dependencies=[Depends(require(Permission.STOCK_READ))],
            responses={200: {"content": {"text/csv": {}}, "description": "The columns import reads."}})
async def export_catalogue(request: Request) -> PlainTextResponse:
    async with get_hub(request).database().session() as session:
        text = catalogue.write_catalogue_csv(await catalogue.all_skus(session))
    return PlainTextResponse(text, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="catalogue.csv"'})
