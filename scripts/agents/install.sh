#!/usr/bin/env bash
# Installs the real ACP agents the ACP tests drive (test/integration/acp-*.test.ts), pinned, from the
# npm registry into a per-user cache, once. They are not devDependencies: three of them carry native
# binaries of 100-200 MB each that `npm ci` should not fetch for every checkout, and only these
# tests need them.
#
# Idempotent: each agent has a marker with its version; a present marker skips the install.
# Cache: ${SWITCHBOARD_AGENTS_CACHE:-$HOME/.cache/agent-switchboard/agents}/<name>/
# Usage: install.sh [name…]   (default: all; names: claude codex gemini opencode)
set -euo pipefail

CACHE="${SWITCHBOARD_AGENTS_CACHE:-${HOME:-/root}/.cache/agent-switchboard/agents}"
declare -A PKG=(
  [claude]="@zed-industries/claude-agent-acp@0.23.1"
  [codex]="@zed-industries/codex-acp@0.16.0"
  [gemini]="@google/gemini-cli@0.61.0"
  [opencode]="opencode-ai@1.18.33"
)
log() { printf '[agents-install] %s\n' "$*"; }
# npm's own npm_* variables (when run from `npm test`) must not reach the nested installs.
for v in $(compgen -e | grep -i '^npm_' || true); do unset "$v"; done

names=("$@")
((${#names[@]})) || names=(claude codex gemini opencode)
mkdir -p "$CACHE"
for name in "${names[@]}"; do
  spec="${PKG[$name]:-}"
  [ -n "$spec" ] || { log "unknown agent: $name"; exit 2; }
  prefix="$CACHE/$name"
  marker="$prefix/.installed-${spec//\//+}"
  if [ -f "$marker" ]; then
    log "$name: $spec already installed"
    continue
  fi
  t=$SECONDS
  log "$name: npm install --prefix $prefix $spec"
  rm -rf "$prefix"
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "$spec"
  touch "$marker"
  log "$name: installed in $((SECONDS - t)) s"
done
