#!/usr/bin/env bash
# shift's demo: deploy release 1 of the example app, then roll out release 2 (which has a bug) by
# canary while replayed traffic runs through the alias. The error-rate alarm on the new version fires
# during the canary and shift puts all traffic back on release 1; the rollout's report is written as
# HTML and its path printed. About 15 seconds after the build.
set -euo pipefail
cd "$(dirname "$0")/../.."
state="${SHIFT_DEMO_STATE:-$(mktemp -d)/state}"
shift_cmd=(swift run --quiet shift)
[ -n "${SHIFT_BIN:-}" ] && shift_cmd=("$SHIFT_BIN")

echo "== 1. deploy release 1 (first deployment: the alias is created, no shift)"
"${shift_cmd[@]}" deploy examples/greeter/template.yaml --state-dir "$state"

echo
echo "== 2. roll out release 2: Canary10Percent5Minutes at 60x (a minute lasts a second), replaying traffic"
set +e
report="$(dirname "$state")/rollout.html"
"${shift_cmd[@]}" deploy examples/greeter/template.yaml --state-dir "$state" \
  --parameter-overrides GreeterCode=src/greeter-v2 \
  --time-scale 60 --traffic examples/greeter/traffic.jsonl --rate 40 --report "$report"
status=$?
set -e

echo
"${shift_cmd[@]}" status --state-dir "$state"
if [ "$status" -eq 3 ]; then
  echo
  echo "release 2 was rolled back by its alarm, as it should be: its bug fails one call in four."
  echo "the rollout's report (timeline, steps, alarms, the new version's errors): $report"
  exit 0
fi
echo "unexpected: deploy exited $status (3 = rolled back was expected)" >&2
exit 1
