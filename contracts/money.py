"""Money: a Decimal amount with an ISO 4217 currency.

Plugins convert platform units (Douyin fen, TOP yuan strings, AliExpress amount objects) into
``Money`` at the edge, in their ``mapping.py``; the hub never guesses units. Not for arithmetic
across currencies: adding two amounts of different currencies is an error.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


class Money(BaseModel):
    """An amount of money in one currency. ``Money(amount="108.00", currency="CNY")``."""

    model_config = ConfigDict(frozen=True)

    amount: Decimal
    currency: str = "CNY"

    @field_validator("amount", mode="before")
    @classmethod
    def _parse_amount(cls, value: Any) -> Decimal:
        if isinstance(value, float):
            # Floats carry binary rounding noise (0.1 + 0.2); go through their shortest repr.
            value = repr(value)
        try:
            amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
        except (InvalidOperation, ValueError) as exc:
            raise ValueError(f"not a decimal amount: {value!r}") from exc
        if not amount.is_finite():
            raise ValueError(f"not a finite amount: {value!r}")
        return amount

    @field_validator("currency")
    @classmethod
    def _check_currency(cls, value: str) -> str:
        code = value.strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise ValueError(f"currency must be a three-letter ISO 4217 code, got {value!r}")
        return code

    @classmethod
    def zero(cls, currency: str = "CNY") -> Money:
        return cls(amount=Decimal("0"), currency=currency)

    @classmethod
    def from_minor_units(cls, minor: int | str, currency: str = "CNY", exponent: int = 2) -> Money:
        """Build from an integer count of minor units (Douyin sends fen: ``1999`` → ``19.99``)."""
        return cls(amount=Decimal(int(minor)).scaleb(-exponent), currency=currency)

    def to_minor_units(self, exponent: int = 2) -> int:
        """The amount as an integer count of minor units; refuses to drop fractions silently."""
        scaled = self.amount.scaleb(exponent)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{self} has more than {exponent} decimal places")
        return int(scaled)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def __mul__(self, factor: int) -> Money:
        return Money(amount=self.amount * factor, currency=self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
