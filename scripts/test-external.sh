#!/usr/bin/env bash
# Runs the test suite against an IAM endpoint that is not the in-process one,
# the way a team would rehearse sesmtp against its own emulator:
#   scripts/test-external.sh moto       # moto's server (python3 -m moto.server)
#   scripts/test-external.sh iam-local  # bin/iam-local, lacking what moto lacks
# It starts the endpoint on a free port on 127.0.0.1, runs `go test` with
# SESMTP_TEST_IAM_ENDPOINT pointing at it, prints how many tests ran and how
# many skipped (and why), and stops the endpoint however the run ends (exit,
# failure, Ctrl-C). Extra arguments go to `go test` (e.g. -run TestCreate).
# Without moto installed, `moto` says so and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."

kind=${1:?usage: scripts/test-external.sh moto|iam-local [go test flags]}
shift
GO=${GO:-go}
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port asks the kernel for a port that is free now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_listening waits (at most 30 s) until host:port accepts connections.
wait_listening() {
  for _ in $(seq 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "the $kind endpoint did not start:"; cat "$work/server.log"; exit 1
}

case "$kind" in
moto)
  if ! python3 -c 'import moto.server' 2>/dev/null; then
    echo "test-external: skipped: moto not installed (python3 -c 'import moto.server' failed; pip install 'moto[server]')"
    exit 0
  fi
  port=$(free_port)
  # AWS managed policies exist in every account; moto loads them only when
  # told to (moto/settings.py load_iam_aws_managed_policies).
  MOTO_IAM_LOAD_MANAGED_POLICIES=true python3 -m moto.server -H 127.0.0.1 -p "$port" > "$work/server.log" 2>&1 &
  pid=$!
  wait_listening "$port"
  url="http://127.0.0.1:$port"
  echo "== moto $(python3 -c 'import moto; print(moto.__version__)') at $url"
  ;;
iam-local)
  $GO build -o "$work/iam-local" ./cmd/iam-local
  # moto's gap, as moto answers it: ListServiceSpecificCredentials is an HTML 500.
  "$work/iam-local" --port 0 --url-file "$work/url" --quiet \
    --unimplemented ListServiceSpecificCredentials=html500 > "$work/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do [ -s "$work/url" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  [ -s "$work/url" ] || { echo "iam-local did not start:"; cat "$work/server.log"; exit 1; }
  url=$(cat "$work/url")
  echo "== iam-local (ListServiceSpecificCredentials unimplemented, html500) at $url"
  ;;
*)
  echo "usage: scripts/test-external.sh moto|iam-local [go test flags]" >&2
  exit 2
  ;;
esac

# One package and one test at a time: tests on an external endpoint share its
# state, and each deletes what it added when it ends (iamtest.State).
export SESMTP_TEST_IAM_ENDPOINT=$url
set +e
log=${TMPDIR:-/tmp}/sesmtp-test-$kind.log
$GO test -p 1 -count=1 -v "$@" ./... > "$log" 2>&1
rc=$?
set -e
# The output of each failed test, whole; then the packages' lines.
awk '/^=== RUN   [^\/]+$/ { buf = "" } { buf = buf $0 "\n" }
  /^--- FAIL/ { printf "%s", buf; buf = "" } /^panic:|^(ok|FAIL)[ \t]/ { print }' "$log"
# Per package: top-level tests that ran and that skipped (-v prints each
# package's tests, then its "ok" or "FAIL" line).
awk -v kind="$kind" '
  /^--- (PASS|FAIL)/ { ran++ } /^--- FAIL/ { failed++ } /^--- SKIP/ { skipped++ }
  /^(ok|FAIL)[ \t]+[a-z]/ && (ran + skipped) > 0 {
    printf "  %-45s %3d of %3d ran, %3d skipped\n", $2, ran, ran + skipped, skipped
    tr += ran; ts += skipped; tf += failed; ran = skipped = failed = 0
  }
  END {
    printf "== against %s: %d of %d top-level tests ran (%d failed), %d skipped\n", kind, tr, tr + ts, tf, ts
    printf "%d passed, %d failed, %d skipped\n", tr - tf, tf, ts
  }' "$log"
echo "== skip reasons (subtests included; whole log: $log):"
grep -oE '(needs the local IAM endpoint \([^)]*\)|sets up [^;]*)' "$log" | sort | uniq -c | sort -rn || true
exit $rc
