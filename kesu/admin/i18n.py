"""The admin page's words: Chinese first, English with ``?lang=en``.

They are the ``admin`` context of kesu's gettext catalogue (:mod:`kesu.i18n`,
``kesu/i18n/locale/*/LC_MESSAGES/kesu.po``).
"""

from __future__ import annotations

from typing import Any

from kesu import i18n


def word(key: str, lang: str, **values: Any) -> str:
    """The admin page's word ``key`` in ``lang`` (the key itself if the catalogue has none)."""
    return i18n.text("admin", key, lang, **values)
