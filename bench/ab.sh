#!/usr/bin/env bash
# Before/after on one box: runs the engine, webhooks and widget benches alternately from two checkouts of Regulars
# (e.g. a `git worktree add ../before <commit>` and this one), twice each, then analytics once each, and prints the
# lines that carry the figures. Each tree runs its own code (PYTHONPATH=<tree>), with this tree's virtualenv.
#   bench/ab.sh ../before .        (PostgreSQL, Redis and Debian's wrk as the benches need)
set -u
before=$(cd "$1" && pwd); after=$(cd "$2" && pwd)
venv="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python"
run() {  # label tree args...
  local label=$1 tree=$2; shift 2
  echo "=== $label $(date +%T) :: $*"
  (cd "$tree" && PYTHONPATH="$tree" REGULARS_ENV=development timeout 900 "$venv" -m "$@" 2>&1) \
    | grep -E "machine speed|order events/s|SQL statements|ratio to bare|paced|server time|req/s, ratio|rebuild|refresh_customer| ms  /api"
}
for round in 1 2; do
  for side in before after; do
    tree=$before; [ "$side" = after ] && tree=$after
    run "$side engine r$round" "$tree" bench.engine --orders 800 --customers 400 --count-orders 200
    run "$side webhooks r$round" "$tree" bench.webhooks.run --seconds 5 --rounds 2
    run "$side widget r$round" "$tree" bench.widget.run --members 60000 --duration 5 --samples 300
  done
done
for side in before after; do
  tree=$before; [ "$side" = after ] && tree=$after
  run "$side analytics" "$tree" bench.analytics --orders 300000 --customers 60000
done
