#!/usr/bin/env bash
# Idempotent developer/CI environment installer for eqdesign.
#
# Usage: bash scripts/bootstrap.sh [--dev] [--bench] [--force]
#   --dev    also install the `dev` extra (pytest)
#   --bench  also install the `bench` extra (e3nn, for benchmarks/peer_speed.py)
#   --force  ignore the stamp file and reinstall
#
# Environment:
#   EQDESIGN_TORCH_VERSION    torch version to pin (default 2.13.0)
#   EQDESIGN_TORCH_INDEX_URL  passed to pip as --index-url for torch only,
#                             e.g. https://download.pytorch.org/whl/cpu
#   PYTHON                    interpreter used to create .venv (default python3, needs >= 3.11)
#
# Creates <repo>/.venv, installs torch first, then `-e .[build,train(,dev)]`.
# escnn lives in the venv because it writes joblib caches into its own package
# folder. A stamp (.venv/.eqdesign-stamp) makes a rerun with nothing changed a no-op.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DEV=0
BENCH=0
FORCE=0
for arg in "$@"; do
    case "$arg" in
        --dev) DEV=1 ;;
        --bench) BENCH=1 ;;
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bootstrap: unknown argument: $arg (usage: bash scripts/bootstrap.sh [--dev] [--bench] [--force])" >&2; exit 2 ;;
    esac
done

log() { echo "bootstrap: $*"; }
warn() { echo "bootstrap: WARNING: $*" >&2; }

TORCH_VERSION="${EQDESIGN_TORCH_VERSION:-2.13.0}"
TORCH_INDEX_URL="${EQDESIGN_TORCH_INDEX_URL:-}"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
VPY="$VENV/bin/python"
STAMP="$VENV/.eqdesign-stamp"

# --- system packages, from Debian's archive where we are root -------------------
# apt_install COMMAND PACKAGE WHY: install PACKAGE unless COMMAND exists; fails where it cannot.
apt_install() {
    command -v "$1" >/dev/null 2>&1 && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing $2 ($3)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "$2" >/dev/null
    else
        return 1
    fi
}

# py3nj is built from source and needs gfortran
if ! apt_install gfortran gfortran "needed to build py3nj"; then
    warn "gfortran not found and cannot be installed here (not root or no apt-get)."
    warn "py3nj will be skipped: escnn falls back to a much slower numerical"
    warn "Clebsch-Gordan computation. Install gfortran and rerun to fix."
fi
if command -v gfortran >/dev/null 2>&1; then HAVE_FORTRAN=1; else HAVE_FORTRAN=0; fi

# Graphviz, for the tests only: they render influence graphs as SVG (eqdesign itself falls back to Mermaid)
if [ "$DEV" -eq 1 ] && ! apt_install dot graphviz "the tests render influence graphs as SVG"; then
    warn "graphviz (dot) not found and cannot be installed here: the SVG graph tests will be skipped."
fi

# --- stamp: anything that changes what we would install ---------------------
hash_stdin() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -d' ' -f1
    else shasum -a 256 | cut -d' ' -f1; fi
}
STAMP_VALUE="$(
    {
        cat "$ROOT/pyproject.toml"
        cat "$ROOT/scripts/bootstrap.sh"
        echo "root=$ROOT dev=$DEV bench=$BENCH fortran=$HAVE_FORTRAN torch=$TORCH_VERSION index=$TORCH_INDEX_URL"
    } | hash_stdin
)"

if [ "$FORCE" -eq 0 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_VALUE" ] \
        && "$VPY" -c "pass" >/dev/null 2>&1; then
    log "environment up to date ($VENV)"
    exit 0
fi

# --- virtual environment ------------------------------------------------------
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "bootstrap: ERROR: '$PYTHON' not found; install Python >= 3.11 or set PYTHON=" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    echo "bootstrap: ERROR: $("$PYTHON" -V 2>&1) is too old; eqdesign needs Python >= 3.11" >&2
    exit 1
fi

if [ ! -x "$VPY" ] || ! "$VPY" -c "pass" >/dev/null 2>&1; then
    log "creating $VENV with $("$PYTHON" -V 2>&1)"
    "$PYTHON" -m venv --clear "$VENV"
elif [ -f "$VENV/.eqdesign-root" ] && ! grep -qx "root=$ROOT" "$VENV/.eqdesign-root" 2>/dev/null; then
    # The venv was copied from another checkout: its scripts point at the old path.
    log "recreating $VENV (it was created for another checkout)"
    "$PYTHON" -m venv --clear "$VENV"
fi
rm -f "$STAMP"

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
# -qq: errors only (pip still prints them in full on failure)
PIP=("$VPY" -m pip install -qq)

log "upgrading pip"
"${PIP[@]}" --upgrade pip

log "installing torch==$TORCH_VERSION${TORCH_INDEX_URL:+ from $TORCH_INDEX_URL}"
if [ -n "$TORCH_INDEX_URL" ]; then
    "${PIP[@]}" --index-url "$TORCH_INDEX_URL" "torch==$TORCH_VERSION"
else
    "${PIP[@]}" "torch==$TORCH_VERSION"
fi

EXTRAS="build,train"  # train: matplotlib, for the plots of eqdesign train
[ "$DEV" -eq 1 ] && EXTRAS="$EXTRAS,dev"
[ "$BENCH" -eq 1 ] && EXTRAS="$EXTRAS,bench"
if [ "$HAVE_FORTRAN" -eq 1 ]; then
    log "installing eqdesign[$EXTRAS] (editable)"
    "${PIP[@]}" -e ".[$EXTRAS]" py3nj
else
    # escnn hard-requires py3nj but only imports it optionally; install its other
    # dependencies explicitly (with the build extra's numpy<2) and escnn itself without dependency resolution.
    BASE_EXTRAS="${EXTRAS#build}"
    BASE_EXTRAS="${BASE_EXTRAS#,}"
    [ -n "$BASE_EXTRAS" ] && BASE_EXTRAS="[$BASE_EXTRAS]"
    log "installing eqdesign$BASE_EXTRAS (editable) + escnn without py3nj"
    "${PIP[@]}" -e ".$BASE_EXTRAS" "numpy<2" lie_learn scipy joblib pymanopt autograd onnx onnxscript onnxruntime
    "${PIP[@]}" --no-deps "escnn==1.0.11"
fi

echo "root=$ROOT" > "$VENV/.eqdesign-root"
echo "$STAMP_VALUE" > "$STAMP"
log "done: $("$VPY" -c 'import torch, sys; print("python", sys.version.split()[0], "torch", torch.__version__)')"
