#!/usr/bin/env bash
# Mutation testing of the decision code (not in CI): mutmut mutates every decision module
# ([tool.mutmut] in pyproject.toml: sensors, tick_plan, sensor_state, s3_events, checks,
# planning, spec, records, validation/time_scoring and number_times, validation/planning), runs the whole fast
# suite (-m "not stack") against each mutant, and this prints, per module, the mutants killed,
# the equivalent ones (benchmarks/results/mutation-equivalent.txt: name and one-line reason)
# and every survivor.
# Method mutants (mutmut names them x<U+01C1>Class<U+01C1>method__mutmut_N) count like the others.
#
#   bash scripts/mutation.sh                       # every module (hours on 2 cores)
#   bash scripts/mutation.sh ingest_pipeline.spec  # one module (mutmut's mutant-name globs)
#   MUTMUT_CHILDREN=1 VENV=path/to/venv bash scripts/mutation.sh ...
#
# mutmut works in ./mutants (a copy of the project, git-ignored); it is wiped first so a run
# never reports results of an older version of the code or the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/mutmut" ]; then
    "$VENV/bin/python" -m pip install -q -e '.[mutation]'
fi
patterns=()
for module in "$@"; do
    patterns+=("$module.*")
done
rm -rf mutants
# No PYTHONPATH: the tests must import the mutated copy in mutants/, never this tree.
env -u PYTHONPATH "$VENV/bin/mutmut" run --max-children "${MUTMUT_CHILDREN:-2}" \
    ${patterns[@]+"${patterns[@]}"} > /dev/null
env -u PYTHONPATH "$VENV/bin/mutmut" results --all true > mutants/results.txt
"$VENV/bin/python" scripts/mutation_report.py mutants/results.txt \
    benchmarks/results/mutation-equivalent.txt "$@"
