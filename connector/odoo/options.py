"""``[helpdesk.options]`` of the Odoo connector, and the two helpdesk flavours it knows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


@dataclass(frozen=True)
class Flavour:
    """Which helpdesk app serves ``helpdesk.ticket``: the related models differ."""

    name: str
    team: str
    stage: str
    tag: str


FLAVOURS = {
    "enterprise": Flavour("enterprise", "helpdesk.team", "helpdesk.stage", "helpdesk.tag"),
    "oca": Flavour("oca", "helpdesk.ticket.team", "helpdesk.ticket.stage", "helpdesk.ticket.tag"),
}


class OdooOptions(BaseModel):
    """``[helpdesk.options]`` of the Odoo connector."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database: str | None = Field(None, description="Odoo database (required for jsonrpc)")
    login: str | None = Field(None, description="Bot login for jsonrpc; default [helpdesk] bot_login")
    uid: int | None = Field(None, gt=0, description="Bot user id (skips authenticate)")
    protocol: Literal["auto", "jsonrpc", "json2"] = "auto"
    flavour: Literal["auto", "enterprise", "oca"] = "auto"
    version: int | None = Field(None, ge=16, le=99, description="Odoo major version (skips detection)")
    webhook_secret_header: str = Field(
        "x-kesu-token", min_length=1, description="Header that may carry the shared secret"
    )
    poll_page_size: int = Field(200, ge=1, le=1000)
    poll_overlap_seconds: float = Field(
        60.0, ge=0, description="Re-read this window before the cursor (late commits)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> OdooOptions:
        if self.protocol == "json2" and self.version is not None and self.version < 19:
            raise ValueError(f"protocol 'json2' needs Odoo 19 or later, version is {self.version}")
        legacy = self.protocol == "jsonrpc" or (
            self.protocol == "auto" and self.version is not None and self.version < 19
        )
        if legacy and not self.database:
            raise ValueError("database is required with protocol 'jsonrpc' (Odoo 16-18)")
        return self

    @classmethod
    def from_settings(cls, options: Mapping[str, Any]) -> OdooOptions:
        try:
            return cls.model_validate(dict(options))
        except ValidationError as exc:
            allowed = ", ".join(cls.model_fields)
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'options'}: "
                + ("unknown option" if e["type"] == "extra_forbidden"
                   else e["msg"] + (f" (got {e['input']!r})" if e["loc"] else ""))
                for e in exc.errors()
            )
            raise ValueError(
                f"invalid [helpdesk.options] for the odoo connector: {problems}. "
                f"Allowed options: {allowed}"
            ) from None


