#!/bin/sh
# Switchboard's Claude Code hook, fast path (dist/claude-hook.sh). Claude Code runs a hook command for
# every tool call; starting Node for it costs more than everything else the hook does. For PreToolUse,
# when the session's companion is already running, this script hands the event to it with curl and
# prints the answer. In every other case (another event, no companion yet, no curl, any failure) it
# hands the same input to the Node hook, which starts the companion and fails closed.
#
#   sh claude-hook.sh NODE CLAUDE_HOOK_JS [--hook-timeout S] [--home DIR]
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
input=$(cat)

slow() {
  printf '%s' "$input" | "$node" "$js" "$@"
  exit $?
}

case $input in
  '{"session_id":"'*'"hook_event_name":"PreToolUse"'*) ;;
  *) slow "$@" ;;
esac
command -v curl >/dev/null 2>&1 || slow "$@"

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
  elif [ "$(uname -s)" = Darwin ]; then
    home="$HOME/Library/Application Support/agent-switchboard"
  else
    home="${XDG_DATA_HOME:-$HOME/.local/share}/agent-switchboard"
  fi
fi
conf="$home/claude/$sid/companion.curl"
[ -r "$conf" ] || slow "$@"

# The approval expires 20 s before Claude Code kills the hook; curl gives up 5 s before it.
out=$(printf '%s' "$input" | curl -sS --fail --max-time $((timeout - 5)) -K "$conf" \
  -H "x-switchboard-offline: ${SWITCHBOARD_CLAUDE_OFFLINE:-}" \
  -H "x-switchboard-hook-timeout: $timeout" \
  -H "content-type: application/json" --data-binary @- 2>/dev/null) || slow "$@"
[ -n "$out" ] || slow "$@"
printf '%s\n' "$out"
