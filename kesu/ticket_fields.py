"""Ticket fields kesu's policies read: what each plugin's configuration names, merged into one list.

A policy that names a ticket field in its configuration (``[policies.facts.fields] validity =
"complaint_validity"``, ``[policies.escalation] understanding_field`` ...) declares it through the
``kesu_ticket_fields`` hook with its type, its Chinese display name and, for a choice, the options
its configuration accepts (the profile's causes, tiers, 有效/无效 ...). The declaration is derived
from the validated configuration, so a field exists exactly when a configuration names it, and its
options follow the profile. ``kesu zammad setup`` / ``kesu odoo setup`` create what is declared;
``connector.<kind>.setup.missing_fields`` reports what a helpdesk lacks.

Types are helpdesk-neutral; each connector's setup maps them (Zammad ``select`` / ``input`` ...,
Odoo ``selection`` / ``char`` ...).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

FieldType = Literal["select", "multiselect", "text", "integer", "decimal", "date", "datetime", "boolean", "user"]
FIELD_TYPES: tuple[str, ...] = FieldType.__args__  # type: ignore[attr-defined]


class FieldOption(BaseModel):
    """One choice of a select: the stored ``value`` (what kesu's reader accepts) and its labels."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: str = Field(min_length=1)
    label: str = Field(min_length=1, description="Chinese label agents see")
    label_en: str = ""

    def shown(self, language: str = "zh") -> str:
        return self.label_en if language == "en" and self.label_en else self.label


class TicketField(BaseModel):
    """A ticket field a plugin's configuration names (agents fill it in; kesu reads it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="kesu's name, as in the configuration")
    type: FieldType
    label: str = Field(min_length=1, description="Chinese display name")
    label_en: str = Field(min_length=1, description="English display name")
    options: tuple[FieldOption, ...] = ()
    multiline: bool = Field(False, description="text: a long free text (a report section)")
    #: the tag convention for the same fact: a tag ``tag_prefix + option label`` (``有效性-无效``)
    #: says what the field would; "" = none. Setup creates these tags where tags are records (Odoo).
    tag_prefix: str = ""
    #: tags kesu itself writes for this field's options, ``(tag, option value)``: where the helpdesk
    #: has the field, kesu sets the field in the same write as its note instead of the tag (one call
    #: fewer); where it has not (fields not provisioned), it writes the tag as before.
    tag_values: tuple[tuple[str, str], ...] = ()
    #: where the configuration names it, e.g. "[policies.facts.fields] validity"; several when merged
    named_by: tuple[str, ...] = ()

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if not v.replace("_", "").isalnum() or not v.isascii() or v != v.lower() or v[0].isdigit():
            raise ValueError(f"a ticket field name is lower-case ASCII letters, digits and _, got {v!r}")
        return v

    def shown(self, language: str = "zh") -> str:
        return self.label_en if language == "en" else self.label

    def option_values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)


class FieldConflict(ValueError):
    """Two configurations name one field as two incompatible types."""


def named(section: str, key: str) -> tuple[str, ...]:
    return (f"[policies.{section}] {key}",)


def select(name: str, label: str, label_en: str, options: Iterable[tuple[str, str, str]], where: tuple[str, ...],
           *, multi: bool = False, tag_prefix: str = "",
           tag_values: Iterable[tuple[str, str]] = ()) -> TicketField:
    """A select of ``(value, label, label_en)`` choices; without choices it is a text field."""
    opts = tuple(dict.fromkeys(FieldOption(value=v, label=zh or v, label_en=en or v) for v, zh, en in options))
    if not opts:
        return TicketField(name=name, type="text", label=label, label_en=label_en, named_by=where)
    return TicketField(name=name, type="multiselect" if multi else "select", label=label, label_en=label_en,
                       options=opts, named_by=where, tag_prefix=tag_prefix, tag_values=tuple(tag_values))


def convention_tags(fields: Iterable[TicketField]) -> list[str]:
    """The tags of the fields' tag conventions: prefix + each option's Chinese label."""
    return list(dict.fromkeys(f.tag_prefix + o.label for f in fields if f.tag_prefix for o in f.options))


def _merge_options(a: tuple[FieldOption, ...], b: tuple[FieldOption, ...]) -> tuple[FieldOption, ...]:
    """Union by value, first order kept; a label that only repeats the value gives way to a real one."""
    out: dict[str, FieldOption] = {o.value: o for o in a}
    for o in b:
        have = out.get(o.value)
        if have is None:
            out[o.value] = o
        elif have.label == have.value and o.label != o.value:
            out[o.value] = FieldOption(value=o.value, label=o.label, label_en=have.label_en
                                       if have.label_en != have.value else o.label_en)
    return tuple(out.values())


def merge_fields(declared: Iterable[TicketField]) -> list[TicketField]:
    """One field per name, in first-declared order. The first declaration's labels win (the facts
    plugin's come first); options are unioned; a text and a select of one name make a select; any
    other difference of type is a :class:`FieldConflict` naming both configuration keys."""
    merged: dict[str, TicketField] = {}
    for f in declared:
        have = merged.get(f.name)
        if have is None:
            merged[f.name] = f
            continue
        kinds = {have.type, f.type}
        if len(kinds) == 2 and kinds != {"text", "select"}:
            raise FieldConflict(
                f"ticket field {f.name!r} is a {have.type} for {', '.join(have.named_by) or '?'} "
                f"but a {f.type} for {', '.join(f.named_by) or '?'}: give one of them another field name")
        kind = "select" if len(kinds) == 2 else have.type
        merged[f.name] = have.model_copy(update={
            "type": kind,
            "options": _merge_options(have.options, f.options),
            "multiline": have.multiline or f.multiline,
            "tag_prefix": have.tag_prefix or f.tag_prefix,
            "tag_values": tuple(dict.fromkeys([*have.tag_values, *f.tag_values])),
            "named_by": tuple(dict.fromkeys([*have.named_by, *f.named_by])),
        })
    return list(merged.values())


def field_tags(fields: Iterable[TicketField], present: Iterable[str]) -> dict[str, tuple[str, str]]:
    """tag -> (field name, option value) for the declared fields the helpdesk has (``present``):
    the tags kesu replaces by a value of a field set in the same write. A multiselect is left to
    its tags (one tag would replace the agents' other values)."""
    have = set(present)
    out: dict[str, tuple[str, str]] = {}
    for f in fields:
        if f.name in have and f.type == "select":
            values = set(f.option_values())
            for tag, value in f.tag_values:
                if value in values:
                    out.setdefault(tag, (f.name, value))
    return out
