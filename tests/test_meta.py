"""Conventions kept honest: every hook documented with its exact signature, and tested."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from plugins import hookspecs

ROOT = Path(__file__).resolve().parents[1]


def _specs():
    return {name: fn for name, fn in vars(hookspecs).items()
            if name.startswith("kesu_") and callable(fn) and hasattr(fn, "kesu_spec")}


def _signature(fn) -> str:
    sig = inspect.signature(fn)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"def {fn.__name__}({params}) -> {sig.return_annotation}"


def test_there_are_hookspecs():
    assert {"kesu_evaluate", "kesu_policy_config", "kesu_register_connectors",
            "kesu_plan_applied", "kesu_register_commands"} <= set(_specs())


def test_every_hookspec_is_documented_with_its_exact_signature():
    docs = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    missing = [_signature(fn) for fn in _specs().values() if _signature(fn) not in docs]
    assert not missing, "undocumented or changed hooks (update docs/hooks.md):\n" + "\n".join(missing)
    for name in _specs():
        assert re.search(rf"^### {name}$", docs, re.M), f"docs/hooks.md needs a '### {name}' heading"


def test_every_hookspec_has_a_docstring_with_results_semantics():
    for name, fn in _specs().items():
        doc = inspect.getdoc(fn) or ""
        assert "Results:" in doc and ":returns:" in doc or "Results: none" in doc, name


def test_every_hook_is_exercised_by_a_test():
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py")
                      if p.name != "test_meta.py")
    untested = [name for name in _specs() if name not in tests]
    assert not untested, f"hooks no test implements or calls: {untested}"
