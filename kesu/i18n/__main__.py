"""``python -m kesu.i18n [--check]``: rewrite ``messages.pot`` from the Chinese catalogue, or check
that the template and both catalogues hold the same entries, all translated (exit 1 if not)."""

from __future__ import annotations

import io
import sys

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from kesu.i18n import DOMAIN, LANGS, TEMPLATE, po_path, read


def template() -> bytes:
    source = read(po_path("zh"), "zh_CN")
    pot = Catalog(domain=DOMAIN, project="kesu", charset="utf-8", fuzzy=False,
                  header_comment="# Template of kesu's own words: every msgctxt + msgid kesu looks up.\n#",
                  creation_date=source.creation_date)
    for m in source:
        if m.id:
            pot.add(m.id, "", context=m.context, flags=m.flags, auto_comments=m.auto_comments)
    out = io.BytesIO()
    write_po(out, pot, width=0, omit_header=False)
    return out.getvalue()


def problems() -> list[str]:
    def ids(cat: Catalog) -> set[tuple[str, str]]:
        return {(m.context or "", str(m.id)) for m in cat if m.id}

    found: list[str] = []
    pot = ids(read(TEMPLATE))
    for lang in LANGS:
        cat = read(po_path(lang))
        have = ids(cat)
        found += [f"{lang}: missing {c}/{k}" for c, k in sorted(pot - have)]
        found += [f"{lang}: not in messages.pot {c}/{k}" for c, k in sorted(have - pot)]
        found += [f"{lang}: untranslated {m.context}/{m.id}" for m in cat if m.id and (not m.string or m.fuzzy)]
    return found


def main(argv: list[str]) -> int:
    if "--check" in argv:
        found = problems()
        print("\n".join(found) or "ok")
        return 1 if found else 0
    TEMPLATE.write_bytes(template())
    print(f"wrote {TEMPLATE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
