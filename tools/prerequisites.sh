#!/usr/bin/env bash
# What `make run` and `make test` need from the machine itself, checked before anything is set up.
# Everything else comes from the registries through the Makefile (pip, npm with its lock file).
#
#   tools/prerequisites.sh run         Python 3.11+ with venv, Node.js with npm (as static_site/package.json says)
#   tools/prerequisites.sh test        the same, plus Debian's chromium and redis-server: installed with
#                                      apt-get when run as root on Debian, else named in one message
#   tools/prerequisites.sh python313   print the path of a Python 3.13 (PATH, then pyenv), or nothing
#
# Environment: PYTHON (default python3); PYTHON313 (default: found as `python313` does);
# REQUIRE_PYTHON313=1 makes a missing Python 3.13 (the Azure Function App's version) an error.
# Quiet when all is there. Exit 1, after one message naming what is missing and how to install it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
MISSING=()      # one line each: what is missing and what needs it
APT=()          # Debian packages that provide what is missing
BY_HAND=()      # hints for what no Debian package here is sure to provide

python313() {
  local root candidate
  root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
  for candidate in "$root"/versions/3.13.*/bin/python3.13 "$(command -v python3.13 || true)"; do
    # pyenv's shim on PATH answers only where pyenv selects 3.13: ask each candidate itself.
    if [[ -x $candidate ]] && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
}

check_python() {
  if ! command -v "$PYTHON" >/dev/null; then
    MISSING+=("Python 3.11 or newer: no \`$PYTHON\` on PATH")
    APT+=(python3 python3-venv)
  elif ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    MISSING+=("Python 3.11 or newer: \`$PYTHON\` is $("$PYTHON" -V 2>&1)")
    BY_HAND+=("Python 3.11 or newer: your system's python3, or pass PYTHON=/path/to/python3.11")
  elif ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    MISSING+=("Python's venv module with pip, to make .venv")
    APT+=(python3-venv)
  fi
}

check_node() {
  # The oldest Node.js the web client supports is static_site/package.json's "engines" (">=N").
  local want hint
  want=$(sed -n 's/^ *"node": *">= *\([0-9][0-9]*\).*/\1/p' "$ROOT/static_site/package.json" | head -n 1)
  want=${want:-18}
  hint="Node.js $want or newer with npm: Debian's nodejs and npm (bookworm has 18), or the Node.js site's packages"
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    MISSING+=("Node.js $want or newer with npm, to build the web client")
    if node_from_apt "$want"; then APT+=(nodejs npm); else BY_HAND+=("$hint"); fi
  elif ! node -e "process.exit(Number(process.versions.node.split('.')[0]) < $want ? 1 : 0)"; then
    MISSING+=("Node.js $want or newer: node is $(node --version)")
    BY_HAND+=("$hint")
  fi
}

# Whether apt's nodejs is new enough (only asked when node is missing).
node_from_apt() {
  local candidate
  candidate=$(apt-cache policy nodejs 2>/dev/null | sed -n 's/^ *Candidate: *\([0-9][0-9]*\).*/\1/p')
  [[ -n $candidate && $candidate -ge $1 ]]
}

check_python313() {
  [[ ${REQUIRE_PYTHON313:-} == 1 ]] || return 0   # make run needs none; make test and run-azure do
  local found=${PYTHON313:-$(python313)}
  if ! { [[ -n $found ]] && "$found" -c 'import ensurepip, venv' 2>/dev/null; }; then
    MISSING+=("Python 3.13 with venv, the Azure Function App's version: ${found:-none on PATH or in pyenv}${found:+ does not run as one}")
    BY_HAND+=("Python 3.13: \`pyenv install 3.13\`, or your distribution's python3.13; or pass PYTHON313=/path")
  fi
}

check_test_tools() {
  command -v chromium >/dev/null || { MISSING+=("chromium: the browser tests drive Debian's Chromium"); APT+=(chromium); }
  command -v redis-server >/dev/null || { MISSING+=("redis-server: the scale-out tests"); APT+=(redis-server); }
}

# As root on Debian, install the Debian packages (updating the package lists when they lack them).
install_apt() {
  [[ ${#APT[@]} -gt 0 && $(id -u) -eq 0 ]] && command -v apt-get >/dev/null || return 0
  local log
  log=$(mktemp)
  echo "installing Debian's ${APT[*]} (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-cache show "${APT[@]}" >/dev/null 2>&1; then
    apt-get update -qq >>"$log" 2>&1 || true
  fi
  if ! apt-get install -y -qq --no-install-recommends "${APT[@]}" >>"$log" 2>&1; then
    apt-get update -qq >>"$log" 2>&1 || true   # stale lists: retry once with fresh ones
    apt-get install -y -qq --no-install-recommends "${APT[@]}" >>"$log" 2>&1 || { tail -n 20 "$log" >&2; }
  fi
  rm -f "$log"
  MISSING=() APT=() BY_HAND=()   # check again: what is still missing gets the message
  check "$GOAL"
}

check() {
  check_python
  check_node
  check_python313
  [[ $1 != test ]] || check_test_tools
}

report() {
  [[ ${#MISSING[@]} -eq 0 ]] && return 0
  {
    echo "\`make $GOAL\` needs what this machine lacks (see README.md):"
    printf '  - %s\n' "${MISSING[@]}"
    if [[ ${#APT[@]} -gt 0 ]]; then
      local sudo=""
      [[ $(id -u) -eq 0 ]] || sudo="sudo "
      if command -v apt-get >/dev/null; then
        echo "Install with: ${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${APT[*]}"
      else
        echo "Install with your package manager: ${APT[*]}"
      fi
    fi
    [[ ${#BY_HAND[@]} -eq 0 ]] || printf 'Install: %s\n' "${BY_HAND[@]}" | sort -u
    echo "then run \`make $GOAL\` again."
  } >&2
  return 1
}

GOAL=${1:-}
case $GOAL in
  python313) python313 ;;
  run) check run; report ;;
  test) check test; install_apt; report ;;
  *) echo "usage: $0 run|test|python313" >&2 && exit 2 ;;
esac
