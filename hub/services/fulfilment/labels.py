"""Printable shipping labels: one 100×150 mm PDF page per parcel (many pages for a batch), with
the waybill number as a Code128 barcode, the provider's sort code and package centre, sender,
recipient, items, order ids and "parcel n/m".

``render`` is pure (``LabelParcel`` values → PDF bytes); ``load`` reads parcels with a waybill
into those values, the addresses masked unless the caller may see personal data; ``print_labels``
does both and marks the parcels ``printed`` (idempotent: reprints allowed, each in the order's
history). Not for the provider's own print format: ``parcels.print_data`` keeps what it returned
(Cainiao's cloud-print data, Douyin's encrypted print data) for a print component that wants it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import func, select, update

from contracts.orders import Address
from contracts.waybills import Waybill
from hub.context import Hub
from hub.db.tables import OrderEventRow, ParcelRow, utcnow
from hub.errors import NotFoundError, PermanentError
from hub.services.fulfilment.waybills import WaybillRefused, waybill_request

PAGE = (100 * mm, 150 * mm)  # 283.46 × 425.20 points
#: A CID font every PDF reader has for Chinese (no font file shipped); Latin text uses Helvetica.
CJK_FONT = "STSong-Light"
#: Parcels with a waybill a label can be printed for (a shipped one may be reprinted).
PRINTABLE = ("issued", "printed", "shipped")
#: The couriers' names as printed; other codes are printed upper-case.
COURIER_NAMES = {
    "zto": "中通快递 ZTO", "yto": "圆通速递 YTO", "sto": "申通快递 STO", "yunda": "韵达快递 Yunda",
    "sf": "顺丰速运 SF", "jd": "京东物流 JD", "ems": "EMS", "jtexpress": "极兔速递 J&T", "best": "百世快递",
    "dbl": "德邦快递 Deppon", "youzhengguonei": "邮政快递包裹",
}


@dataclass(frozen=True)
class LabelParcel:
    """What one label shows."""

    parcel_id: int
    courier_code: str
    waybill_number: str
    sender: Address
    recipient: Address
    items: list[tuple[str, int]]
    order_ids: list[str]
    seq: int = 1
    count: int = 1
    sort_code: str | None = None
    package_center: str | None = None
    route_code: str | None = None


def courier_name(code: str) -> str:
    return COURIER_NAMES.get(code, code.upper())


def _font() -> str:
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT


def _address_lines(address: Address) -> list[str]:
    who = " ".join(part for part in (address.name, address.phone) if part)
    region = "".join(part for part in (address.province, address.city, address.district, address.town) if part)
    lines = [who, f"{region}{address.street or ''}"]
    if address.encrypted:
        lines.append("(encrypted by the platform: print its own label data)")
    return [line for line in lines if line]


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """``text`` cut into lines no wider than ``width`` (character by character: Chinese has no spaces)."""
    lines, current = [], ""
    for char in text:
        if pdfmetrics.stringWidth(current + char, font, size) > width and current:
            lines.append(current)
            current = char
        else:
            current += char
    return lines + ([current] if current else [])


def _page(canvas: Canvas, label: LabelParcel) -> None:
    font = _font()
    width, height = PAGE
    margin = 4 * mm
    inner = width - 2 * margin
    y = height - margin - 12
    canvas.setFont(font, 12)
    canvas.drawString(margin, y, courier_name(label.courier_code))
    canvas.setFont("Helvetica", 9)
    canvas.drawRightString(width - margin, y, f"{label.seq}/{label.count}")
    if label.sort_code:
        y -= 24
        canvas.setFont(font, 22)
        canvas.drawCentredString(width / 2, y, label.sort_code[:24])
    if label.package_center or label.route_code:
        y -= 14
        canvas.setFont(font, 10)
        canvas.drawCentredString(width / 2, y, " ".join(p for p in (label.package_center, label.route_code) if p))
    y -= 8
    canvas.line(margin, y, width - margin, y)
    barcode = Code128(label.waybill_number, barHeight=16 * mm, barWidth=1.2, humanReadable=False, quiet=False)
    if barcode.width > inner:
        barcode = Code128(label.waybill_number, barHeight=16 * mm, barWidth=inner / barcode.width * 1.2,
                          humanReadable=False, quiet=False)
    y -= 16 * mm + 4
    barcode.drawOn(canvas, (width - barcode.width) / 2, y)
    y -= 12
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawCentredString(width / 2, y, label.waybill_number)
    y -= 6
    canvas.line(margin, y, width - margin, y)
    for title, address, size in (("收 To", label.recipient, 10), ("寄 From", label.sender, 8)):
        y -= size + 4
        canvas.setFont(font, size)
        canvas.drawString(margin, y, title)
        for line in _address_lines(address):
            for part in _wrap(line, font, size, inner - 12 * mm)[:3]:
                canvas.drawString(margin + 12 * mm, y, part)
                y -= size + 2
        canvas.line(margin, y + size - 4, width - margin, y + size - 4)
    canvas.setFont(font, 8)
    y -= 4
    bottom = margin + 12  # the order line's place
    for index, (name, quantity) in enumerate(label.items):
        if y - 10 < bottom and index < len(label.items) - 1:  # no room for this one and a "more" line
            canvas.drawString(margin, y, f"… +{len(label.items) - index}")
            break
        canvas.drawString(margin, y, _wrap(f"{name} × {quantity}", font, 8, inner)[0])
        y -= 10
    canvas.setFont("Helvetica", 7)
    canvas.drawString(margin, margin, f"Order {', '.join(label.order_ids)[:80]} · parcel #{label.parcel_id}")


def render(parcels: Sequence[LabelParcel]) -> bytes:
    """One PDF, one 100×150 mm page per parcel, in the order given. Page streams are left
    uncompressed so the waybill numbers can be found in the file (labels are small)."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=PAGE, pageCompression=0)
    canvas.setTitle("Shipping labels" if len(parcels) != 1 else f"Label {parcels[0].waybill_number}")
    canvas.setCreator("Connector Hub")
    for label in parcels:
        _page(canvas, label)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


async def load(hub: Hub, parcel_ids: Sequence[int], *, reveal: bool) -> list[LabelParcel]:
    """The labels of ``parcel_ids`` in that order. ``NotFoundError`` for an unknown id,
    ``WaybillRefused`` for a parcel without a waybill to print (naming it). Addresses are masked
    unless ``reveal`` (the caller may see personal data)."""
    wanted = list(dict.fromkeys(parcel_ids))
    labels = []
    async with hub.database().session() as session:
        rows = {p.id: p for p in (await session.execute(select(ParcelRow).where(ParcelRow.id.in_(wanted)))).scalars()}
        missing = [i for i in wanted if i not in rows]
        if missing:
            raise NotFoundError(f"parcel(s) {', '.join(map(str, missing))} do not exist")
        for parcel_id in wanted:
            parcel = rows[parcel_id]
            if parcel.status not in PRINTABLE or not parcel.waybill_number:
                raise WaybillRefused(f"parcel {parcel_id} is {parcel.status} and has no waybill to print")
            try:
                request = await waybill_request(hub, session, parcel)
            except PermanentError as exc:
                raise WaybillRefused(f"parcel {parcel_id}: {exc}") from exc
            sibling = ParcelRow.delivery_order_id == parcel.delivery_order_id if parcel.delivery_order_id else \
                ParcelRow.order_id == parcel.order_id
            count = await session.scalar(select(func.count()).select_from(ParcelRow).where(
                sibling, ParcelRow.status != "cancelled"))
            waybill = Waybill.model_validate(parcel.print_data) if parcel.print_data else None
            sender, recipient = request.sender, request.recipient
            if not reveal:
                sender, recipient = sender.masked(), recipient.masked()
            labels.append(LabelParcel(
                parcel_id=parcel.id, courier_code=parcel.courier_code, waybill_number=parcel.waybill_number,
                sender=sender, recipient=recipient, items=[(i.name, i.quantity) for i in request.items],
                order_ids=request.order_external_ids, seq=parcel.seq, count=max(int(count or 1), parcel.seq),
                sort_code=waybill.label.sort_code if waybill else None,
                package_center=waybill.label.package_center if waybill else None,
                route_code=waybill.label.route_code if waybill else None,
            ))
    return labels


async def print_labels(hub: Hub, parcel_ids: Sequence[int], *, actor: str, reveal: bool) -> bytes:
    """The labels' PDF; the parcels become ``printed`` (first print time kept), each print in the
    order's history (a reprint says so)."""
    labels = await load(hub, parcel_ids, reveal=reveal)
    pdf = render(labels)
    ids = [label.parcel_id for label in labels]
    now = utcnow()
    async with hub.database().transaction() as session:
        rows = (await session.execute(select(ParcelRow.id, ParcelRow.order_id, ParcelRow.printed_at).where(
            ParcelRow.id.in_(ids)))).all()
        await session.execute(update(ParcelRow).where(ParcelRow.id.in_(ids), ParcelRow.status == "issued")
                              .values(status="printed", updated_at=now))
        await session.execute(update(ParcelRow).where(ParcelRow.id.in_(ids), ParcelRow.printed_at.is_(None))
                              .values(printed_at=now))
        session.add_all([OrderEventRow(order_id=order_id, at=now, kind="label_printed", old_status=None,
                                       new_status=None, cause="waybill", actor=actor,
                                       detail={"parcel_id": parcel_id, "reprint": printed_at is not None})
                         for parcel_id, order_id, printed_at in rows])
    return pdf
