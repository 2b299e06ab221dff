# shellcheck shell=bash
# muster_write_build_info REPO: records the commit in Sources/CMusterShims/build_info.h
# (ignored by git) for `muster --version`. Rewritten only when the commit changes, so
# an unchanged tree rebuilds nothing; touching build_info.c makes the build see it.
muster_write_build_info() {
    local repo="$1" commit header
    commit="$(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
    if [ "$commit" != unknown ] && [ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
        commit="$commit-dirty"
    fi
    header="$repo/Sources/CMusterShims/build_info.h"
    local text="#define MUSTER_BUILD_COMMIT \"$commit\""
    if [ "$(cat "$header" 2>/dev/null)" != "$text" ]; then
        printf '%s\n' "$text" >"$header"
        touch "$repo/Sources/CMusterShims/build_info.c"
    fi
}
