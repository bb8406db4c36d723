#!/usr/bin/env bash
# .ci/node.sh MAJOR — prints the bin folder of the newest Node MAJOR (22, 24, …) for this machine,
# taken from the npm registry: the node-linux-<arch> package ships bin/node and include/node (the
# headers node-gyp builds against with --nodedir). Cached per major in ${IPC_NODE_CACHE:-/tmp/ipc-node}
# (IPC_NODE_REFRESH=1 fetches again). Only npm is needed; nodejs.org is not.
set -euo pipefail
major=${1:?usage: .ci/node.sh MAJOR}
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "node.sh: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac
cache=${IPC_NODE_CACHE:-/tmp/ipc-node}/$major
pkg=$cache/node_modules/node-linux-$arch
if [ "${IPC_NODE_REFRESH:-}" = 1 ] || ! [ -x "$pkg/bin/node" ] || ! [ -f "$pkg/include/node/node_api.h" ]; then
  rm -rf "$cache"
  mkdir -p "$cache"
  npm install --prefix "$cache" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-$arch@$major" >&2
fi
got=$("$pkg/bin/node" -p 'process.versions.node.split(".")[0]')
if [ "$got" != "$major" ]; then
  echo "node.sh: $pkg/bin/node is Node $got, not $major" >&2
  exit 1
fi
echo "$pkg/bin"
