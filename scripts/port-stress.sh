#!/usr/bin/env bash
# port-stress.sh: proves that product listener ports never collide. Runs an LSR stand-in
# that binds the port the harness gives it ({port:http_server}, rendered as
# scripts.script_resource_port) before running the reference LSR, and fails loudly when the
# bind fails ("Address already in use": exit 98, so the scenario fails with an exit).
#
# Usage: scripts/port-stress.sh [BUILD_DIR [RUNS [JOBS]]]
#   BUILD_DIR  default build/default; RUNS at least this many scenario runs (default
#   10000); JOBS parallel runs (default 16). Prints the figures; exits 1 on any collision or
#   failure.
set -euo pipefail

build=$(cd "${1:-build/default}" && pwd)
runs=${2:-10000}
jobs=${3:-16}
fpconform="$build/harness/fpconform"
work=$(mktemp -d "${TMPDIR:-/tmp}/fpconform-port-stress-XXXXXX")
trap 'rm -rf "$work"' EXIT

cat > "$work/listening-lsr.json" <<JSON
{
  "description": "An LSR stand-in that listens on its script resource port, then runs fpref.",
  "product": "lsr",
  "argv": ["{build}/harness/fpconform_misbehave", "steps", "listen:{port:http_server}",
           "exec", "{build}/reference/fpref", "--product", "lsr", "--config", "{config}"],
  "timeouts_ms": {"startup": 5000, "observe": 10000, "grace": 1000}
}
JSON

filter='match/*'
scenarios=$("$fpconform" list --filter "$filter" | awk '$3 ~ /lsr/' | wc -l)
repeat=$(( (runs + scenarios - 1) / scenarios ))
start=$(date +%s.%N)
status=0
"$fpconform" run --build-dir "$build" --target "$work/listening-lsr.json" \
    --filter "$filter" --repeat "$repeat" --jobs "$jobs" --json "$work/report.json" \
    > "$work/console.txt" 2> "$work/progress.txt" || status=$?
end=$(date +%s.%N)

python3 - "$work/report.json" "$start" "$end" "$jobs" "$status" <<'PY'
import json, sys
report, start, end, jobs, status = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], int(sys.argv[5])
data = json.load(open(report))
results = data["results"]
collisions = sum(1 for r in results
                 if "already in use" in (r.get("stdout_tail", "") + r.get("stderr_tail", "")))
statuses = {}
for r in results:
    statuses[r["status"]] = statuses.get(r["status"], 0) + 1
ports = set()
for r in results:
    for line in r.get("stdout_tail", "").splitlines():
        if line.startswith("listening on "):
            ports.add(int(line.split()[-1]))
seconds = end - start
print(f"runs: {len(results)} at --jobs {jobs} in {seconds:.1f} s ({len(results) / seconds:.0f} runs/s)")
print("statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
print(f"listener ports used: {len(ports)} distinct" +
      (f", {min(ports)}-{max(ports)}" if ports else ""))
print(f"collisions (Address already in use): {collisions}")
print(f"fpconform exit status: {status}")
for r in [r for r in results if r["status"] != "pass"][:5]:
    print(f"  {r['status']}: {r.get('scenario')} #{r.get('repeat')}: {r.get('message', '')}")
    for line in (r.get("stderr_tail", "") + r.get("stdout_tail", "")).splitlines()[:8]:
        print(f"    {line}")
sys.exit(1 if collisions or status != 0 or statuses.get("pass", 0) != len(results) else 0)
PY
