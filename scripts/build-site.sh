#!/usr/bin/env bash
# Builds the browser side of the console into target/site:
#   pkg/<bundle>.js + pkg/<bundle>_bg.wasm for each page group's islands, pkg/portcullis.css
#   (Tailwind), public/ files. Fails when a bundle is over its gzipped budget.
# Plain cargo + wasm-bindgen + wasm-opt + Tailwind: what cargo-leptos does, without its 24-minute install.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

site=target/site
pkg=$site/pkg
mkdir -p "$pkg"

# One bundle per page group (app/src/lib.rs: BUNDLES, bundle_for): a page downloads the
# console's frame and the islands of its own group, never the whole console.
#   name                  frontend features
bundles=(
  "portcullis               "
  "portcullis-directory     directory"
  "portcullis-applications  applications"
  "portcullis-policy-editor policy-editor"
  "portcullis-providers     providers"
  "portcullis-access        access"
)
# The budget for what a first page load needs: its bundle's wasm and JS glue, gzipped.
budget=${BUNDLE_BUDGET_BYTES:-350000}
mkdir -p target/wasm-bundles
report=()
over=0
for entry in "${bundles[@]}"; do
  read -r name features <<<"$entry"
  grep -q "(\"$name\"," app/src/lib.rs || { echo "bundle $name is not in app/src/lib.rs BUNDLES" >&2; exit 1; }
  # Never --workspace: the hydrate build must not see the server's features.
  cargo build -p portcullis-frontend --target wasm32-unknown-unknown --profile wasm-release ${features:+--features "$features"}
  wasm=target/wasm32-unknown-unknown/wasm-release/portcullis_frontend.wasm
  kept=target/wasm-bundles/$name.wasm
  if [ ! -f "$pkg/${name}_bg.wasm" ] || ! cmp -s "$wasm" "$kept"; then
    wasm-bindgen --target web --no-typescript --out-dir "$pkg" --out-name "$name" "$wasm"
    wasm-opt -Oz \
      --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
      --enable-mutable-globals --enable-reference-types --enable-multivalue \
      -o "$pkg/${name}_bg.wasm" "$pkg/${name}_bg.wasm"
    # Served pre-compressed when the browser accepts gzip.
    gzip -9 -k -f "$pkg/${name}_bg.wasm" "$pkg/$name.js"
    cp "$wasm" "$kept"
  fi
  wasm_gz=$(stat -c %s "$pkg/${name}_bg.wasm.gz")
  js_gz=$(stat -c %s "$pkg/$name.js.gz")
  total=$((wasm_gz + js_gz))
  report+=("$(printf '%-24s wasm %8s bytes (%7s gzipped)  js %6s gzipped  first load %7s gzipped' "$name" \
    "$(stat -c %s "$pkg/${name}_bg.wasm")" "$wasm_gz" "$js_gz" "$total")")
  if [ "$total" -gt "$budget" ]; then
    over=1
    report+=("  ^ over the budget of $budget bytes gzipped")
  fi
done

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

gzip -9 -k -f "$pkg/portcullis.css"
printf 'site built in %s (css %s bytes, %s gzipped); browser bundles:\n' "$site" \
  "$(stat -c %s "$pkg/portcullis.css")" "$(stat -c %s "$pkg/portcullis.css.gz")" >&2
printf '  %s\n' "${report[@]}" | tee "$pkg/bundle-sizes.txt" >&2
if [ "$over" -ne 0 ]; then
  echo "a browser bundle is over its budget (docs/bundle-size.md says how to find what grew)" >&2
  exit 1
fi
