#!/usr/bin/env bash
# Refreshes the GraphiQL page's assets in graphql/assets/graphiql/ from the
# npm registry, at the pinned versions below. The files are committed and
# embedded in the binary (graphql/src/graphiql.rs), so the page works on a
# network without internet; this script is only for moving to new versions.
set -euo pipefail
cd "$(dirname "$0")/.."

GRAPHIQL=3.8.3
REACT=18.3.1

out="graphql/assets/graphiql"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null)
for f in "$work"/*.tgz; do
  d="${f%.tgz}"; mkdir -p "$d"; tar xzf "$f" -C "$d" --strip-components=1
done
mkdir -p "$out"
cp "$work/graphiql-$GRAPHIQL/graphiql.min.js" "$work/graphiql-$GRAPHIQL/graphiql.min.css" "$out/"
cp "$work/react-$REACT/umd/react.production.min.js" "$out/"
cp "$work/react-dom-$REACT/umd/react-dom.production.min.js" "$out/"
{
  echo "graphiql@$GRAPHIQL, react@$REACT and react-dom@$REACT from the npm registry (scripts/vendor-graphiql.sh); MIT licensed."
  echo
  (cd "$out" && sha256sum graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js)
  echo
  echo "== graphiql LICENSE"; cat "$work/graphiql-$GRAPHIQL/LICENSE"
  echo; echo "== react LICENSE"; cat "$work/react-$REACT/LICENSE"
} > "$out/VERSIONS"
echo "vendored into $out" >&2
