"""R-PEN-5.6.5, the insurer's institution assessment (篇5 §6.5): "亿元保费的投诉量和亿张保单投诉比".

    亿元保费投诉量 = 投诉量 ÷ (保费 ÷ 100,000,000 元)
    亿张保单投诉量 = 投诉量 ÷ (保单数 ÷ 100,000,000 张)

投诉量 is every complaint received in the period (the report's 投诉总量, invalid ones included).
No ticket holds the premium or the policy count: a person gives them for the period
(``kesu report monthly --premium 12.5亿 --policies 380000``, the admin page's report form). A
ratio whose input is missing is reported as not given (未提供保费/保单数), never estimated.
"""

from __future__ import annotations

import math
import re

from kesu.report.model import RatioInputs, Ratios

HUNDRED_MILLION = 100_000_000
NOT_GIVEN = "未提供保费/保单数"
FORMULA = ("亿元保费投诉量 = 投诉量 ÷ (保费 ÷ 1亿元)；亿张保单投诉量 = 投诉量 ÷ (保单数 ÷ 1亿张)；"
           "投诉量为本期受理的全部投诉")

_UNITS = {"": 1, "元": 1, "万": 10_000, "万元": 10_000, "亿": HUNDRED_MILLION, "亿元": HUNDRED_MILLION,
          "张": 1, "万张": 10_000, "亿张": HUNDRED_MILLION}
_NUMBER = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]+)?|\.[0-9]+)\s*(亿元|万元|亿张|万张|元|张|亿|万)?\s*$")


class RatioInputError(ValueError):
    """A premium or policy count that is not a positive amount; the message says what is wanted
    (``zh``: the same in Chinese, for the admin page)."""

    def __init__(self, message: str, zh: str) -> None:
        super().__init__(message)
        self.zh = zh


def parse_premium(text: str | None) -> float | None:
    """``"12.5亿"``, ``"12.5亿元"``, ``"125000万"``, ``"1,250,000,000"`` (yuan) -> yuan; empty -> None."""
    value = _parse(text, "premium", "保费", ("元", "万", "万元", "亿", "亿元", ""))
    return None if value is None else float(value)


def parse_policies(text: str | None) -> int | None:
    """``"380000"``, ``"38万"``, ``"38万张"`` -> a whole number of policies; empty -> None."""
    value = _parse(text, "policies", "保单数", ("张", "万", "万张", "亿", "亿张", ""))
    if value is None:
        return None
    if abs(value - round(value)) > 1e-6:
        raise RatioInputError(f"policies must be a whole number of policies (保单数须为整数), got {text!r}",
                              f"保单数须为整数，收到 {text!r}")
    return int(round(value))


def _parse(text: str | None, name: str, name_zh: str, units: tuple[str, ...]) -> float | None:
    if text is None or not str(text).strip():
        return None
    m = _NUMBER.match(str(text).replace("，", ","))
    unit = (m.group(2) or "") if m else ""
    if not m or unit not in units or ("," in m.group(1) and not re.fullmatch(r"\d{1,3}(,\d{3})*(\.\d+)?", m.group(1))):
        shown = "12.5亿, 125000万 or 1250000000 (yuan)" if name == "premium" else "380000 or 38万"
        shown_zh = "12.5亿、125000万 或 1250000000（元）" if name == "premium" else "380000 或 38万"
        raise RatioInputError(f"{name} ({name_zh}) must be a positive number such as {shown}, got {text!r}",
                              f"{name_zh}须为正数，例如 {shown_zh}，收到 {text!r}")
    value = float(m.group(1).replace(",", "")) * _UNITS[unit]
    if not math.isfinite(value) or value <= 0:
        raise RatioInputError(f"{name} ({name_zh}) must be more than 0, got {text!r}", f"{name_zh}须大于 0，收到 {text!r}")
    return value


def inputs(premium: str | None, policies: str | None) -> RatioInputs:
    """Both inputs from what a person typed (CLI option, form field); raises RatioInputError."""
    return RatioInputs(premium_yuan=parse_premium(premium), policies=parse_policies(policies))


def compute(complaints: int, given: RatioInputs | None) -> Ratios:
    given = given or RatioInputs()
    premium, policies = given.premium_yuan, given.policies
    return Ratios(
        complaints=complaints, premium_yuan=premium, policies=policies,
        per_100m_yuan=complaints / (premium / HUNDRED_MILLION) if premium else None,
        per_100m_policies=complaints / (policies / HUNDRED_MILLION) if policies else None,
        formula=FORMULA)


def yi(value: float) -> str:
    """An amount in 亿 without trailing zeros: 1,250,000,000 -> "12.5", 380,000 -> "0.0038"."""
    text = f"{value / HUNDRED_MILLION:,.8f}".rstrip("0").rstrip(".")
    return text or "0"
