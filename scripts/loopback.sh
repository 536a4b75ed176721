# Sourced by the demo scripts: the loopback file server
# (scripts/loopback_server.py) serving DIR at RATE bytes/s per file.
#   start_loopback DIR RATE WHO   sets $base to its URL (WHO names the caller
#                                 in the error when it does not start)
#   stop_loopback                 stops it (call it from the caller's EXIT trap)

start_loopback() {
    local url_file
    url_file=$(mktemp)
    python3 "$(dirname "${BASH_SOURCE[0]}")/loopback_server.py" --dir "$1" --rate "$2" > "$url_file" &
    loopback_pid=$!
    for _ in $(seq 100); do
        [ -s "$url_file" ] && break
        sleep 0.05
    done
    base=$(head -n1 "$url_file")
    rm -f "$url_file"
    [ -n "$base" ] || { echo "$3: the loopback server did not start" >&2; return 1; }
}

stop_loopback() {
    if [ -n "${loopback_pid:-}" ]; then
        kill "$loopback_pid" 2>/dev/null
        wait "$loopback_pid" 2>/dev/null
    fi
    return 0
}
