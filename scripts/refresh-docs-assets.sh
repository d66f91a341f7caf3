#!/bin/sh
# Refreshes the Swagger UI and ReDoc files that /docs and /redoc serve from the package
# (src/tokenward/api/docs_assets/), so that the API documentation works on a network without
# internet access. Needs npm here, never at run time: the files are committed as built.
#
#   scripts/refresh-docs-assets.sh [swagger-ui-dist@VERSION] [redoc@VERSION]
#
# Then run tests/faces/native/test_docs.py and commit the directory.
set -eu

swagger=${1:-swagger-ui-dist@5}
redoc=${2:-redoc@2}
dest=$(cd "$(dirname "$0")/.." && pwd)/src/tokenward/api/docs_assets
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "$swagger" "$redoc" >/dev/null
mkdir swagger redoc
tar xzf swagger-ui-dist-*.tgz -C swagger --strip-components=1
tar xzf redoc-*.tgz -C redoc --strip-components=1
swagger_version=$(node -p 'require("./swagger/package.json").version')
redoc_version=$(node -p 'require("./redoc/package.json").version')

rm -rf "$dest"
mkdir -p "$dest"
# Only what the two pages load, with the licences that must travel with them. The source-map
# comments go: the maps are not shipped, and a browser's developer tools would ask for them.
for name in swagger-ui-bundle.js swagger-ui.css; do
    sed '/^\/[/*]# sourceMappingURL=/d' "swagger/$name" >"$dest/$name"
done
cp swagger/favicon-32x32.png "$dest/"
cp swagger/LICENSE "$dest/swagger-ui.LICENSE"
cp swagger/NOTICE "$dest/swagger-ui.NOTICE"
cp swagger/swagger-ui-bundle.js.LICENSE.txt "$dest/"
sed '/^\/[/*]# sourceMappingURL=/d' redoc/bundles/redoc.standalone.js >"$dest/redoc.standalone.js"
cp redoc/LICENSE "$dest/redoc.LICENSE"
cp redoc/bundles/redoc.standalone.js.LICENSE.txt "$dest/"
printf '{"swagger-ui-dist": "%s", "redoc": "%s"}\n' "$swagger_version" "$redoc_version" \
    >"$dest/versions.json"
echo "swagger-ui-dist $swagger_version, redoc $redoc_version -> $dest"
