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
    name = _clean_filename(uploaded_name or filename or "catalogue.csv")
    hub = get_hub(request)
    try:
        drafts, labels = await catalogue.check_catalogue_file(hub, text)
        report = await catalogue.import_catalogue(hub, drafts, labels, actor=f"import:{name}"[:100],
                                                  dry_run=dry_run)
    except catalogue.CatalogueImportError as exc:
        raise _refused(exc) from exc
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
