"""Benchmark -- local fact extraction: µs of kesu CPU per complaint text (issue #9: ≤ 1 ms).

    python bench/facts.py [--rounds 5] [--json PATH]

For every profile, on every text of its labelled corpus (policies/corpus, both parts: the texts
customers write), in-process:

* **load**: validating the profile's facts configuration and compiling its lexicon, rules and
  automata (done once per process);
* **kesu**: ``policies.facts.read_text`` -- normalisation, lexicon matching with scope, causes,
  flags, amounts, people, batch, contact -- per text: mean of this thread's CPU time over the
  rounds (robust to a loaded machine), and p50/p99 of each call's wall time;
* **baseline, same run**: the least any keyword reader does -- ``str.find`` of each vocabulary word
  whose first character occurs in the text, nothing else (no normalisation, no scope, no rules).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import busy_cpus, machine, table  # noqa: E402
from kesu import factcheck  # noqa: E402
from policies import profiles  # noqa: E402
from policies.facts import FactsConfig, _rules, read_text  # noqa: E402

TARGET_US = 1000.0


def _texts(profile: str) -> list[str]:
    out = []
    for split in factcheck.SPLITS:
        out += [f"{c.title}\n{c.body}" for c in factcheck.load_cases(factcheck.corpus_path(profile, split))]
    return out


def _vocabulary(config: FactsConfig) -> dict[str, list[str]]:
    words: set[str] = set()
    for lst in _rules(config).matcher.lists:
        words |= {w for w in lst[0] if not w.startswith("re:")}
    by_first: dict[str, list[str]] = {}
    for w in words:
        by_first.setdefault(w[0], []).append(w)
    return by_first


def baseline(text: str, by_first: dict[str, list[str]]) -> int:
    found = 0
    for c in set(text):
        for w in by_first.get(c, ()):
            if text.find(w) != -1:
                found += 1
    return found


def measure(profile: str, rounds: int) -> dict[str, float]:
    section = profiles.section(profile, "facts")
    t0 = time.perf_counter()
    config = FactsConfig.model_validate(section)
    _rules(config)
    load_ms = (time.perf_counter() - t0) * 1000
    texts = _texts(profile)
    vocab = _vocabulary(config)
    for t in texts:  # warm: caches of amounts, cn2an import
        read_text(t, config)
    walls: list[float] = []
    cpu0 = time.thread_time()
    for _ in range(rounds):
        for t in texts:
            s = time.perf_counter()
            read_text(t, config)
            walls.append((time.perf_counter() - s) * 1e6)
    kesu_cpu = (time.thread_time() - cpu0) / (rounds * len(texts)) * 1e6
    cpu0 = time.thread_time()
    for _ in range(rounds):
        for t in texts:
            baseline(t, vocab)
    base_cpu = (time.thread_time() - cpu0) / (rounds * len(texts)) * 1e6
    walls.sort()
    return {"texts": len(texts), "chars": sum(map(len, texts)) / len(texts), "vocabulary": sum(map(len, vocab.values())),
            "load_ms": load_ms, "kesu_cpu_us": kesu_cpu, "p50_us": walls[len(walls) // 2],
            "p99_us": walls[int(len(walls) * 0.99)], "baseline_cpu_us": base_cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    print(f"machine: {machine()}, busy CPUs before the run: {busy_cpus():.2f}")
    results = {p: measure(p, args.rounds) for p in profiles.PROFILES}
    rows = [[p, str(r["texts"]), f"{r['chars']:.0f}", str(r["vocabulary"]), f"{r['load_ms']:.0f}",
             f"{r['kesu_cpu_us']:.0f}", f"{r['p50_us']:.0f}", f"{r['p99_us']:.0f}", f"{r['baseline_cpu_us']:.0f}"]
            for p, r in results.items()]
    print(table(["profile", "texts", "chars/text", "vocabulary words", "load ms", "kesu CPU µs/text",
                 "p50 µs", "p99 µs", "baseline CPU µs/text"], rows))
    worst = max(r["kesu_cpu_us"] for r in results.values())
    print(f"target ≤ {TARGET_US:.0f} µs kesu CPU per text: {'met' if worst <= TARGET_US else 'MISSED'} (worst {worst:.0f})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
