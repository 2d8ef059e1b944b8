#!/usr/bin/env bash
# The README's walkthrough, end to end, on the embedded journal in $REWIND_DATA
# (default ./rewind-data): a run that fails, a resume from a chosen step with
# corrected data, a retried payment, an approval, and a look back in time.
# Then an auditor's look at the same journal with journal-inspect, and the
# commands acting through `rewind serve` while it holds the journal.
#   examples/walkthrough.sh            (uses build/tools/rewind and
#                                      build/tools/journal-inspect, or $REWIND
#                                      and $JOURNAL_INSPECT)
set -uo pipefail
cd "$(dirname "$0")/.."
rewind=${REWIND:-build/tools/rewind}
inspect=${JOURNAL_INSPECT:-build/tools/journal-inspect}
export REWIND_DATA=${REWIND_DATA:-./rewind-data}

say() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }
# Runs a rewind command line, shows its output, and checks its exit status.
expect() {
  local want=$1; shift
  local out status
  out=$("$@" 2>&1); status=$?
  output=$out
  printf '%s\n' "$out"
  if [[ $status -ne $want ]]; then
    echo "walkthrough: expected exit status $want, got $status" >&2
    exit 1
  fi
  last=$(printf '%s\n' "$out" | tail -n 1)
}
# Checks that the last command's output mentions each of its arguments.
mentions() {
  local word
  for word in "$@"; do
    if ! grep -qF -- "$word" <<<"$output"; then
      echo "walkthrough: expected '$word' in the output" >&2
      exit 1
    fi
  done
}

say "1. Order 42 asks for 12 items; 'validate' allows at most 10, so the run fails (exit 1)" \
    "rewind run examples/order.json --input '{\"order\":42,\"qty\":12}'"
expect 1 "$rewind" run examples/order.json --input '{"order":42,"qty":12}'
run=$(awk '{print $2}' <<<"$last")

say "2. What happened: every step, its attempts, its error" "rewind status $run"
expect 0 "$rewind" status "$run"

say "3. Preview a resume from 'validate': what is kept, what runs again" \
    "rewind resume $run --from-step validate --dry-run"
expect 0 "$rewind" resume "$run" --from-step validate --dry-run

say "4. Resume from 'validate' with the corrected quantity; 'charge' is declined once and retried; the run then waits for approval (exit 3)" \
    "rewind resume $run --from-step validate --resume-data '{\"qty\":3}' --reason 'customer lowered the quantity'"
expect 3 "$rewind" resume "$run" --from-step validate --resume-data '{"qty":3}' --reason "customer lowered the quantity"

say "5. Approve; the order ships and the run completes (exit 0)" \
    "rewind approve $run approve --note 'approved by finance'"
expect 0 "$rewind" approve "$run" approve --note "approved by finance"

say "6. Time travel: the run as it was right after 'reserve' in its latest epoch" "rewind state $run --at-step reserve"
expect 0 "$rewind" state "$run" --at-step reserve

say "7. The first attempt at the run, before the resume: the state after its first 4 events" \
    "rewind state $run --at-seq 4"
expect 0 "$rewind" state "$run" --at-seq 4

say "8. The run among all runs, who acted on it and why, and how each step of 'order' fared" \
    "rewind runs --workflow order; rewind audit --run $run; rewind stats --workflow order"
expect 0 "$rewind" runs --workflow order
mentions "$run" completed
expect 0 "$rewind" audit --run "$run"
mentions resume "customer lowered the quantity" approve "approved by finance"
expect 0 "$rewind" stats --workflow order
mentions validate charge ship

say "9. An auditor's view: the run's story, its chain verified, the heads to keep elsewhere" \
    "journal-inspect timeline $run; journal-inspect verify --all; journal-inspect heads --json > heads.json"
expect 0 "$inspect" timeline "$run"
mentions "RESUMED from this step: customer lowered the quantity; epoch 1 begins" "approved by finance"
expect 0 "$inspect" verify --all
mentions "events: clean"
heads_file=$(mktemp)
trap 'rm -f "$heads_file"' EXIT
"$inspect" heads --json >"$heads_file" || { echo "walkthrough: heads failed" >&2; exit 1; }
expect 0 "$inspect" verify --all --against "$heads_file"
mentions "1 saved heads: clean"

say "10. Would the workflow as it is now decide this run the same way?" \
    "journal-inspect replay-check $run --workflow examples/order.json"
expect 0 "$inspect" replay-check "$run" --workflow examples/order.json
mentions "the definition decides as recorded"

say "11. While a server holds the journal, the same commands act through it, as the OS user (and --actor)" \
    "rewind serve --workflows examples/order.json &; rewind run ...; rewind resume ... --actor ana; rewind approve ..."
"$rewind" serve --workflows examples/order.json >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; rm -f "$heads_file"' EXIT
for _ in $(seq 100); do [[ -e "$REWIND_DATA/server.json" ]] && break; sleep 0.1; done
expect 1 "$rewind" run examples/order.json --input '{"order":43,"qty":11}'
served=$(awk '{print $2}' <<<"$last")
expect 3 "$rewind" resume "$served" --from-step validate --resume-data '{"qty":1}' --reason "one will do" --actor ana
mentions "/ana: one will do" "waiting for approval"
expect 0 "$rewind" approve "$served" approve --note "approved while serving"
mentions completed
kill "$server"
wait "$server"

printf '\nWalkthrough complete. The journal is in %s; every event above is in it.\n' "$REWIND_DATA"
