#!/usr/bin/env bash
# Builds the browser side of the console into target/site:
#   pkg/portcullis.js + pkg/portcullis_bg.wasm (hydration), pkg/portcullis.css (Tailwind), public/ files.
# Plain cargo + wasm-bindgen + wasm-opt + Tailwind: what cargo-leptos does, without its 24-minute install.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

site=target/site
pkg=$site/pkg
mkdir -p "$pkg"

# Never --workspace: the hydrate build must not see the server's features.
cargo build -p portcullis-frontend --target wasm32-unknown-unknown --profile wasm-release
wasm=target/wasm32-unknown-unknown/wasm-release/portcullis_frontend.wasm

if [ ! -f "$pkg/portcullis_bg.wasm" ] || [ "$wasm" -nt "$pkg/portcullis_bg.wasm" ]; then
  wasm-bindgen --target web --no-typescript --out-dir "$pkg" --out-name portcullis "$wasm"
  wasm-opt -Oz \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    -o "$pkg/portcullis_bg.wasm" "$pkg/portcullis_bg.wasm"
fi

# Tailwind's errors (a bad @apply, a missing import) fail the build and are shown; only its
# banner and timing line are dropped.
if ! out=$(tailwindcss -i style/input.css -o "$pkg/portcullis.css" --minify 2>&1); then
  printf '%s\n' "$out" >&2
  exit 1
fi
grep -v -e '^≈ tailwindcss' -e '^Done in' -e '^$' <<<"$out" >&2 || true
cp -R public/. "$site/"

# The API reference at /api/docs, served from here: it works with no internet.
mkdir -p "$site/api-docs"
cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css "$site/api-docs/"

# Served pre-compressed when the browser accepts gzip.
for f in "$pkg/portcullis_bg.wasm" "$pkg/portcullis.js" "$pkg/portcullis.css"; do
  gzip -9 -k -f "$f"
done
printf 'site built in %s: wasm %s bytes (%s gzipped), css %s bytes\n' "$site" \
  "$(stat -c %s "$pkg/portcullis_bg.wasm")" "$(stat -c %s "$pkg/portcullis_bg.wasm.gz")" "$(stat -c %s "$pkg/portcullis.css")" >&2
