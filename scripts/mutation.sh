#!/usr/bin/env bash
# Mutation testing of the decision code (not in CI): mutmut mutates ingest_pipeline/sensors.py,
# checks.py and planning.py ([tool.mutmut] in pyproject.toml), runs the fast unit tests against
# each mutant, and this prints the share of mutants killed per module and every survivor.
#
#   bash scripts/mutation.sh            # VENV=path/to/venv to use another virtualenv
#
# mutmut works in ./mutants (a copy of the project, git-ignored); it is wiped first so a run
# never reports results of an older version of the code or the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/mutmut" ]; then
    "$VENV/bin/python" -m pip install -q -e '.[mutation]'
fi
rm -rf mutants
# No PYTHONPATH: the tests must import the mutated copy in mutants/, never this tree.
env -u PYTHONPATH "$VENV/bin/mutmut" run --max-children "${MUTMUT_CHILDREN:-2}" > /dev/null
env -u PYTHONPATH "$VENV/bin/mutmut" results --all true > mutants/results.txt
"$VENV/bin/python" - mutants/results.txt <<'PY'
import collections
import re
import sys

counts = collections.defaultdict(collections.Counter)
survivors = []
for line in open(sys.argv[1]):
    match = re.match(r"\s*ingest_pipeline\.(\w+)\.x_\w+?__mutmut_\d+: (.+)", line)
    if not match:
        continue
    module, status = match.group(1), match.group(2).strip()
    counts[module][status] += 1
    if status != "killed":
        survivors.append(line.strip())
print(f"{'module':<12} {'killed':>7} {'total':>6} {'score':>7}  not killed")
for module, outcome in sorted(counts.items()):
    total = sum(outcome.values())
    other = ", ".join(f"{n} {s}" for s, n in sorted(outcome.items()) if s != "killed")
    print(f"{module:<12} {outcome['killed']:>7} {total:>6} {outcome['killed'] / total:>7.1%}  {other}")
print("\nnot killed (mutmut show <name> for the diff):")
print("\n".join(survivors) or "(none)")
PY
