#!/usr/bin/env bash
# The steps of muster's GitHub Action (action.yml), one per subcommand, so that each
# can run outside GitHub with the environment it sets (GITHUB_OUTPUT,
# GITHUB_STEP_SUMMARY, RUNNER_TEMP, CI=true):
#
#   github-action.sh install   muster on PATH: the release tarball of MUSTER_VERSION,
#                              a build of the action's checkout, or the muster installed
#   github-action.sh up        muster up -d
#   github-action.sh run       muster run COMMAND with the JSON, HTML and JUnit reports;
#                              its exit code is kept for `finish`, the step itself passes
#   github-action.sh summary   the run's findings as Markdown in $GITHUB_STEP_SUMMARY
#   github-action.sh collect   the reports into one folder for upload-artifact
#   github-action.sh down      muster down (its own leak check), then a check that every
#                              process muster ran is gone
#   github-action.sh finish    fails with the command's exit code (or 1 when down did)
#
# Inputs come as environment variables: MUSTER_STACK_FILE, MUSTER_COMMAND,
# MUSTER_FAIL_ON_RESTART, MUSTER_REPORT, MUSTER_HTML, MUSTER_JUNIT, MUSTER_SHARD,
# MUSTER_VERSION, MUSTER_UP_TIMEOUT, MUSTER_ACTION_PATH, MUSTER_ACTION_REPOSITORY.
set -uo pipefail

state="${RUNNER_TEMP:?RUNNER_TEMP is not set; run this from GitHub Actions or set it}/muster-action"
mkdir -p "$state"
stack_args=()
[ -n "${MUSTER_STACK_FILE:-}" ] && stack_args=(-f "$MUSTER_STACK_FILE")
report="${MUSTER_REPORT:-muster-report.json}"
html="${MUSTER_HTML:-muster-report.html}"
junit="${MUSTER_JUNIT:-muster-junit.xml}"
action_path="${MUSTER_ACTION_PATH:-$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)}"

say() { echo "muster action: $*" >&2; }
output() { [ -n "${GITHUB_OUTPUT:-}" ] && echo "$1=$2" >>"$GITHUB_OUTPUT"; return 0; }

install() {
    local version="${MUSTER_VERSION:-}"
    if [ "$version" = installed ]; then
        command -v muster >/dev/null || { say "muster-version: installed, but no muster is on PATH"; return 1; }
    elif [ "$version" = source ] || { [ -z "$version" ] && [ "${GITHUB_WORKSPACE:-}" = "$action_path" ]; }; then
        # Run from muster's own checkout (uses: ./): build it.
        say "building muster from $action_path"
        (cd "$action_path" && scripts/install-deps >/dev/null && swift build -c release --product muster >&2) || return 1
        local bin
        bin="$(cd "$action_path" && swift build -c release --show-bin-path)"
        [ -n "${GITHUB_PATH:-}" ] && echo "$bin" >>"$GITHUB_PATH"
        export PATH="$bin:$PATH"
    else
        if [ -z "$version" ]; then
            version="$(sed -n 's/.*static let version = "\(.*\)".*/\1/p' "$action_path/Sources/MusterKit/Support/BuildInfo.swift")"
        fi
        if command -v muster >/dev/null && [ "$(muster --version | cut -d' ' -f1)" = "$version" ]; then
            say "muster $version is installed"
        else
            local repository="${MUSTER_ACTION_REPOSITORY:?the repository of the action is unknown; set muster-version: source or installed}"
            local name="muster-$version-linux-$(uname -m)"
            local url="https://github.com/$repository/releases/download/v$version/$name.tar.gz"
            say "installing $url"
            curl -fsSL -o "$state/muster.tar.gz" "$url" || { say "cannot download $url; is v$version released with its tarball?"; return 1; }
            tar -xzf "$state/muster.tar.gz" -C "$state" || return 1
            local sudo=""
            [ "$(id -u)" -ne 0 ] && sudo=sudo
            $sudo "$state/$name/install.sh" >&2 || return 1
        fi
    fi
    output version "$(muster --version | cut -d' ' -f1)"
    muster doctor >&2 || say "muster doctor names what is missing above"
}

up() {
    muster up "${stack_args[@]}" -d --timeout "${MUSTER_UP_TIMEOUT:-120s}"
}

run() {
    local command="${MUSTER_COMMAND:?set the command input: the test command to run}"
    local args=(--report "$report" --html "$html" --junit "$junit")
    [ "${MUSTER_FAIL_ON_RESTART:-false}" = true ] && args+=(--fail-on-restart)
    [ -n "${MUSTER_SHARD:-}" ] && args+=(--shard "$MUSTER_SHARD")
    local code=0
    muster run "${stack_args[@]}" "${args[@]}" -- bash -c "$command" || code=$?
    echo "$code" >"$state/exit-code"
    output exit-code "$code"
    [ "$code" -eq 0 ] || say "the command ended with exit code $code; the reports and muster down follow"
    return 0
}

summary() {
    local target="${GITHUB_STEP_SUMMARY:-$state/step-summary.md}"
    if [ ! -f "$report" ]; then
        printf '### muster: no run report\n\n`%s` was not written: the stack did not come up or the run did not start. See the log of the up step.\n' \
            "$report" >>"$target"
        return 0
    fi
    muster report --markdown "$state/summary.md" "$report" && cat "$state/summary.md" >>"$target"
    return 0
}

collect() {
    local folder="$state/artifacts"
    mkdir -p "$folder"
    local file
    for file in "$report" "$html" "$junit"; do
        [ -f "$file" ] && cp "$file" "$folder/"
    done
    output artifact-dir "$folder"
    say "reports for upload in $folder: $(ls "$folder" | tr '\n' ' ')"
}

down() {
    local code=0
    muster ps "${stack_args[@]}" --json >"$state/ps.json" 2>/dev/null || true
    muster down "${stack_args[@]}" || code=$?
    # What ps listed must be gone, whatever down said.
    local pids
    pids="$(grep -oE '"(supervisor_)?pid" *: *[0-9]+' "$state/ps.json" | grep -o '[0-9]*$' || true)"
    # The supervisor may take a moment to exit after down returns: 10 s at most.
    local left=() tries=0
    while :; do
        left=()
        for pid in $pids; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
        [ "${#left[@]}" -eq 0 ] || [ "$tries" -ge 100 ] && break
        tries=$((tries + 1))
        sleep 0.1
    done
    if [ "${#left[@]}" -gt 0 ]; then
        say "processes left after muster down: ${left[*]}"
        code=1
    fi
    echo "$code" >"$state/down-code"
    output down-exit-code "$code"
    [ "$code" -eq 0 ] && say "muster down: the stack is stopped and nothing was left behind"
    return 0
}

finish() {
    local code down
    code="$(cat "$state/exit-code" 2>/dev/null || echo 1)"
    down="$(cat "$state/down-code" 2>/dev/null || echo 0)"
    if [ "$code" -ne 0 ]; then exit "$code"; fi
    if [ "$down" -ne 0 ]; then say "muster down found a leak"; exit 1; fi
    exit 0
}

case "${1:-}" in
    install|up|run|summary|collect|down|finish) "$1" ;;
    *) echo "usage: github-action.sh install|up|run|summary|collect|down|finish" >&2; exit 2 ;;
esac
