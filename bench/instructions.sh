#!/usr/bin/env bash
# Counts the instructions a server build runs for one small, fixed S2 load
# (20 rooms of 10 clients, every client sending RATE messages/s for the
# warm-up, a 10 s window and the second after it), under valgrind's
# callgrind. On this shared 2-core machine CPU seconds of the same build
# move by ±7% from run to run; this count moves by well under 1%, so it
# shows a change of a few percent in what the server does per message.
# It counts user-space instructions only: not the kernel's sends, not lock
# contention, not cache misses. Compare builds at the same RATE.
#
# usage: bench/instructions.sh [BIN] [RATE]
#   BIN   the server binary (target/release/baat-chit)
#   RATE  messages/s per client (0.5, so 100 messages/s)
# The annotated profile stays in the printed file (callgrind_annotate FILE).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(realpath "${1:-$root/target/release/baat-chit}")
rate=${2:-0.5}
command -v valgrind > /dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 1; }

work=$(mktemp -d)
cat > "$work/server" <<EOF
#!/usr/bin/env bash
exec valgrind --tool=callgrind --callgrind-out-file=$work/callgrind.out "$bin" "\$@"
EOF
chmod +x "$work/server"

BAATCHIT_BIN="$work/server" node "$root/bench/run.mjs" --no-build --servers rust \
  --scenarios s2 --reps 1 --duration 10 --warmup 1 --rooms 20 --room-size 10 \
  --s2-rate "$rate" --sustained-steps 0 --sustained-refine 0 --sustained-retries 0 \
  --quiet-wait 0 --sustained-p99 100000 --out "$work/report.md" > "$work/run.log" 2>&1 \
  || { cat "$work/run.log" >&2; exit 1; }
grep -m1 " step " "$work/run.log" | sed 's/, p50.*//'
# valgrind writes its profile as the server exits; on a slow machine that
# took over 10 s. The profile is whole once its size stops changing.
size=-1
for _ in $(seq 1 300); do
  now=$(stat -c %s "$work/callgrind.out" 2> /dev/null || echo 0)
  [ "$now" -gt 0 ] && [ "$now" = "$size" ] && break
  size=$now
  sleep 0.5
done
# awk reads to the end: grep -m1 closed the pipe early, and with pipefail
# callgrind_annotate's SIGPIPE ended the script before it printed.
total=$(callgrind_annotate "$work/callgrind.out" 2> /dev/null \
  | awk '/PROGRAM TOTALS/ && !found { print $1; found = 1 }')
echo "$(basename "$bin"): $total instructions ($work/callgrind.out)"
