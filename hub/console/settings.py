"""The ``[console]`` section of the configuration: the merchant's time zone, the session cookie and
how many failed sign-ins lock a name out for a while.

Only pydantic here (``hub.config`` imports it). ``session_secret`` signs the console's cookie; set
it (``HUB_CONSOLE__SESSION_SECRET``, at least 32 characters) whenever more than one process serves
the API, or sessions made by one are refused by the others and every restart signs everyone out.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ConsoleSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time_zone: str = Field(default="Asia/Shanghai", description="IANA zone the console shows times in.")
    default_currency: str = Field(default="CNY", min_length=3, max_length=3,
                                  description="Currency of sales totals when a day has no orders yet.")
    session_secret: str | None = Field(default=None, min_length=32, description=(
        "Signs session cookies. When unset the process makes a random one: sessions end at restart."))
    session_max_age_s: int = Field(default=12 * 3600, ge=60, le=30 * 24 * 3600,
                                   description="A session ends this long after sign-in.")
    secure_cookie: bool = Field(default=False, description="Send the cookie over HTTPS only (set behind TLS).")
    overview_refresh_s: float = Field(default=3.0, ge=0.5, le=60, description="How often the overview refreshes.")
    sign_in_max_failures: int = Field(
        default=5, ge=1, le=100, description="Failed sign-ins with one user name (or API key from one address) "
                                             "before further tries are refused for sign_in_lockout_s.")
    sign_in_lockout_s: int = Field(default=900, ge=10, le=24 * 3600,
                                   description="How long sign-in is refused after too many failures.")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Asia/Shanghai'") from exc
        return value
