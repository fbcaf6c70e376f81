#!/bin/sh
# Builds the image's program tree into OUT (default ./out): the `hybridnet` command bundled with esbuild (our code
# only; npm dependencies stay in OUT/node_modules, installed without dev and optional dependencies: Bun is needed only
# to build), the CNI plugin (a standalone executable compiled by Bun, see tools/build-cni.ts), the
# entry point scripts. Run from the repository root with dev dependencies installed. Used by the Dockerfile's build
# stage and by test/helm/image.test.ts.
set -eu

out=${1:-out}
mkdir -p "$out/bin" "$out/dist/cni" "$out/image"
npx esbuild src/cli/main.ts --bundle --platform=node --format=esm --target=node20 --packages=external \
  --log-level=warning --outfile="$out/dist/hybridnet.mjs"
npx tsx tools/build-cni.ts "$out/dist/cni/hybridnet" >/dev/null
cp bin/hybridnet.mjs "$out/bin/hybridnet.mjs"
cp package.json package-lock.json "$out/"
cp deploy/image/entrypoint.sh deploy/image/install-cni.sh deploy/image/uninstall-policy.sh \
  deploy/image/init-network.mjs "$out/image/"
chmod 0755 "$out/image/"*
if [ "${SKIP_NPM_CI:-}" != 1 ]; then
  (cd "$out" && npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
