"""Per-module score of a mutmut results listing (scripts/mutation.sh).

    python scripts/mutation_report.py RESULTS EQUIVALENT [MODULE ...]

RESULTS: `mutmut results --all true`. EQUIVALENT: lines "<mutant name>  <one-line reason>" of
mutants no test can kill (they behave as the original); they are listed apart, not hidden, and
left out of the score. MODULEs: only these (dotted names), as the run was restricted to them.
"""

from __future__ import annotations

import collections
import re
import sys
from pathlib import Path

# ingest_pipeline.spec.x_merge_intervals__mutmut_3: killed
# ingest_pipeline.records.xǁDatasourceStateǁprevious_rows__mutmut_1: survived  (a method)
MUTANT = re.compile(r"\s*(?P<name>(?P<module>ingest_pipeline(?:\.\w+)*?)\.x[_ǁ]\S+__mutmut_\d+)")


def read_results(path: Path) -> list[tuple[str, str, str]]:
    """(module, mutant name, status) of every mutant listed."""
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name, _, status = line.strip().partition(": ")
        match = MUTANT.fullmatch(name)
        if match and status:
            found.append((match["module"], match["name"], status.strip()))
    return found


def read_equivalent(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    equivalent = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.strip().partition(" ")
            equivalent[name] = reason.strip()
    return equivalent


def main(results: Path, equivalent_file: Path, modules: list[str]) -> int:
    mutants = read_results(results)
    if modules:
        mutants = [m for m in mutants if m[0] in modules]
    if not mutants:
        print(f"no mutants found in {results}")
        return 1
    equivalent = read_equivalent(equivalent_file)
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    survivors, listed_equivalent = [], []
    for module, name, status in mutants:
        if status != "killed" and name in equivalent:
            status = "equivalent"
            listed_equivalent.append(f"{name}: {equivalent[name]}")
        elif status != "killed":
            survivors.append(f"{name}: {status}")
        counts[module][status] += 1
    print(f"{'module':<40} {'killed':>6} {'equiv':>6} {'total':>6} {'score':>7}  not killed")
    for module, outcome in sorted(counts.items()):
        total = sum(outcome.values())
        scored = total - outcome["equivalent"]
        score = outcome["killed"] / scored if scored else 1.0
        other = ", ".join(
            f"{n} {s}" for s, n in sorted(outcome.items()) if s not in ("killed", "equivalent")
        )
        print(
            f"{module:<40} {outcome['killed']:>6} {outcome['equivalent']:>6} {total:>6} "
            f"{score:>7.1%}  {other}"
        )
    print("\nequivalent (benchmarks/results/mutation-equivalent.txt):")
    print("\n".join(listed_equivalent) or "(none)")
    print("\nnot killed (mutmut show <name> for the diff):")
    print("\n".join(survivors) or "(none)")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]))
