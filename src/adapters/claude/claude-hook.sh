#!/bin/sh
# Switchboard's Claude Code hook, fast path (dist/claude-hook.sh). Claude Code runs a hook command for
# every tool call; starting Node for it costs more than everything else the hook does. For PreToolUse,
# PostToolUse and PostToolUseFailure, when the session's companion is already running, this script
# hands the event to it and prints the answer: under bash with its built-in /dev/tcp (no other process
# at all), else with curl. In every other case (another event, no companion yet, any failure) it hands
# the same input to the Node hook, which starts the companion and fails closed.
#
# Exit codes matter to Claude Code: for PreToolUse, 2 denies (stderr is the reason) and any other
# non-zero code lets the call run, so a Node hook that could not run at all is turned into a denial
# here; for every other event 2 would feed stderr to Claude (and block Stop), so it is never used.
#
#   bash claude-hook.sh NODE CLAUDE_HOOK_JS [--hook-timeout S] [--home DIR]   (or sh: then curl)
node=$1
js=$2
shift 2
timeout=600
home=
prev=
for a in "$@"; do
  case $prev in
    --hook-timeout) timeout=$a ;;
    --home) home=$a ;;
  esac
  prev=$a
done
if [ -n "$BASH_VERSION" ]; then
  IFS= read -r -d '' input
else
  input=$(cat)
fi

slow() {
  printf '%s' "$input" | "$node" "$js" "$@"
  code=$?
  [ "$code" -eq 0 ] && exit 0
  case $input in
    *'"hook_event_name":"PreToolUse"'*)
      [ "${SWITCHBOARD_CLAUDE_OFFLINE:-}" = allow ] && exit 0
      echo "Not run: Switchboard's hook could not run ($node $js exited with $code). Check \`switchboard install claude\`, or set SWITCHBOARD_CLAUDE_OFFLINE=allow to run Claude Code's tools unreviewed." >&2
      exit 2
      ;;
  esac
  exit 1
}

case $input in
  '{"session_id":"'*'"hook_event_name":"PreToolUse"'* | '{"session_id":"'*'"hook_event_name":"PostToolUse'*) ;;
  *) slow "$@" ;;
esac
case $timeout in
  '' | *[!0-9]*) slow "$@" ;;
esac
wait_s=$((timeout - 5))

# The session id: Claude Code writes it first; anything unexpected goes the slow way.
sid=${input#'{"session_id":"'}
sid=${sid%%'"'*}
case $sid in
  '' | *[!A-Za-z0-9_-]*) slow "$@" ;;
esac

# The state folder, as src/platform/paths.ts finds it.
if [ -z "$home" ]; then
  if [ -n "$SWITCHBOARD_HOME" ]; then
    home=$SWITCHBOARD_HOME
  elif [ -n "$BASH_VERSION" ]; then
    case $OSTYPE in
      darwin*) home="$HOME/Library/Application Support/agent-switchboard" ;;
      *) home="${XDG_DATA_HOME:-$HOME/.local/share}/agent-switchboard" ;;
    esac
  elif [ "$(uname -s)" = Darwin ]; then
    home="$HOME/Library/Application Support/agent-switchboard"
  else
    home="${XDG_DATA_HOME:-$HOME/.local/share}/agent-switchboard"
  fi
fi
dir="$home/claude/$sid"

if [ -n "$BASH_VERSION" ]; then
  # companion.addr: "PORT TOKEN" (0600). One HTTP/1.0 exchange on a /dev/tcp descriptor.
  read -r port token <"$dir/companion.addr" 2>/dev/null || slow "$@"
  case $port in
    '' | *[!0-9]*) slow "$@" ;;
  esac
  talk() {
    local LC_ALL=C
    local line body
    printf 'POST /hook-raw HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nX-Switchboard-Offline: %s\r\nX-Switchboard-Hook-Timeout: %s\r\nContent-Length: %s\r\n\r\n%s' \
      "$port" "$token" "${SWITCHBOARD_CLAUDE_OFFLINE:-}" "$timeout" "${#input}" "$input" >&3 || return 1
    IFS= read -r -t "$wait_s" line <&3 || return 1
    case $line in
      'HTTP/1.1 200 '* | 'HTTP/1.0 200 '*) ;;
      *) return 1 ;;
    esac
    while IFS= read -r -t "$wait_s" line <&3; do
      [ -z "${line%$'\r'}" ] && break
    done
    IFS= read -r -d '' -t "$wait_s" body <&3
    [ -n "$body" ] || return 1
    [ "$body" = '{}' ] || printf '%s\n' "$body"
  }
  talk 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || slow "$@"
  exit 0
fi

command -v curl >/dev/null 2>&1 || slow "$@"
conf="$dir/companion.curl"
[ -r "$conf" ] || slow "$@"
# The approval expires 20 s before Claude Code kills the hook; curl gives up 5 s before it.
out=$(printf '%s' "$input" | curl -sS --fail --max-time "$wait_s" -K "$conf" \
  -H "x-switchboard-offline: ${SWITCHBOARD_CLAUDE_OFFLINE:-}" \
  -H "x-switchboard-hook-timeout: $timeout" \
  -H "content-type: application/json" --data-binary @- 2>/dev/null) || slow "$@"
[ -n "$out" ] || slow "$@"
[ "$out" = '{}' ] || printf '%s\n' "$out"
