"""Every rule of POLICY_SPEC.md is implemented -- cited by code and by a test -- or listed as out
of scope with a reason in docs/policies.md. Every rule ID the code cites exists in the spec."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULE = re.compile(r"R-[A-Z]+-[0-9][0-9.]*[0-9](?:-[A-Za-z]+)?")
CODE_DIRS = ("policies", "plugins", "kesu", "connector")


def _ids(text: str) -> set[str]:
    return set(RULE.findall(text))


def _read(paths) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in paths)


def _spec_ids() -> set[str]:
    return _ids((ROOT / "docs" / "POLICY_SPEC.md").read_text(encoding="utf-8"))


def _code_text() -> str:
    files = [p for d in CODE_DIRS for p in (ROOT / d).rglob("*") if p.suffix in (".py", ".toml")]
    return _read(files)


def _tests_text() -> str:
    return _read(p for p in (ROOT / "tests").rglob("*.py") if p.name != "test_rule_ids.py")


def _out_of_scope() -> dict[str, str]:
    """``docs/policies.md`` section "Out of scope": lines ``- R-X-1.2: reason``."""
    text = (ROOT / "docs" / "policies.md").read_text(encoding="utf-8")
    section = text.split("## Out of scope", 1)[1] if "## Out of scope" in text else ""
    section = section.split("\n## ", 1)[0]
    listed = {}
    for line in section.splitlines():
        m = re.match(r"\s*[-*]\s*`?(R-[^`:\s]+)`?\s*[:—-]\s*(.+)", line)
        if m:
            listed[m.group(1)] = m.group(2).strip()
    return listed


def test_the_spec_copy_matches_shared():
    shared = ROOT.parent / "shared" / "POLICY_SPEC.md"
    if shared.exists():  # the workplace's copy, when present, is the source
        assert shared.read_text(encoding="utf-8") == (ROOT / "docs" / "POLICY_SPEC.md").read_text(encoding="utf-8")
    assert len(_spec_ids()) >= 60


def test_every_rule_is_implemented_and_tested_or_out_of_scope_with_a_reason():
    code, tests, skipped = _ids(_code_text()), _ids(_tests_text()), _out_of_scope()
    problems = []
    for rule in sorted(_spec_ids()):
        if rule in skipped:
            if len(skipped[rule]) < 15:
                problems.append(f"{rule}: out-of-scope reason too short")
            continue
        if rule not in code:
            problems.append(f"{rule}: not cited by code")
        if rule not in tests:
            problems.append(f"{rule}: not cited by a test")
    assert not problems, "\n".join(problems)


def test_code_cites_only_rules_that_exist():
    spec = _spec_ids()
    unknown = sorted(r for r in _ids(_code_text()) if r not in spec and not any(s.startswith(r + "-") for s in spec))
    assert not unknown, f"rule IDs cited in code but not in POLICY_SPEC.md: {unknown}"
