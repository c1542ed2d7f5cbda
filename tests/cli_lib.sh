# Sourced by the CLI test scripts: resolves DG_BIN (the binary under test)
# to an absolute path and copies it into a private scratch folder $W, so a
# rebuild running meanwhile cannot swap it; $W goes on exit, and so does a
# background run whose id is in $pid. check() counts passes and failures;
# finish prints the closing "N passed, N failed" and sets the exit status.
BIN=${DG_BIN:-build/disagree}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
passed=0
failed=0
pid=
W=$(mktemp -d) || exit 1
trap '[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null; chmod -R u+rwx "$W" 2>/dev/null; rm -rf "$W"' EXIT
cp "$BIN" "$W/disagree" || { echo "FAIL setup: no binary $BIN"; echo "0 passed, 1 failed"
    exit 1; }
BIN=$W/disagree

check() {
    # check NAME STATUS WHY: STATUS 0 passes
    if [ "$2" -eq 0 ]; then
        passed=$((passed + 1))
    else
        echo "FAIL $1: $3"
        failed=$((failed + 1))
    fi
}

finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
