#!/bin/sh
# Builds the release archive of kubectl-vmmigrate for one platform, writes its sha256 file, and renders
# krew-manifest.yaml from scripts/krew-manifest.yaml.tmpl and the sha256 files found in the output directory.
#
#   scripts/release.sh [--profile dist] [--binary PATH] [--target TRIPLE] [--out DIR] [--manifest PATH]
#                      [--allow-placeholders]
#
# --profile P     cargo profile to build (default: dist = fat LTO, one codegen unit, stripped)
# --binary PATH   package this already-built binary instead of building (tests package the debug binary)
# --target T      platform triple of the archive (default: the host's, from `rustc -vV`)
# --out DIR       where archives and .sha256 files go (default: dist)
# --manifest PATH where to render the manifest (default: krew-manifest.yaml)
# --allow-placeholders  render a platform whose archive is not in --out with a placeholder sha256 (64 zeros)
#                 instead of failing; CI builds every platform, then renders once with all .sha256 files.
#
# Archive layout (what krew's `files` expects): kubectl-vmmigrate[.exe], kubectl_complete-vmmigrate (not on
# Windows) and LICENSE at the top level of kubectl-vmmigrate_<version>_<triple>.tar.gz.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
profile=dist
binary=
target=
out=dist
manifest=krew-manifest.yaml
allow_placeholders=0
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --manifest) manifest=$2; shift 2 ;;
    --allow-placeholders) allow_placeholders=1; shift ;;
    *) echo "release.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

cd "$root"
version=v$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
[ "$version" != v ] || { echo "release.sh: no version in Cargo.toml" >&2; exit 1; }
[ -n "$target" ] || target=$(rustc -vV | sed -n 's/^host: //p')
case "$target" in
  *windows*) exe=kubectl-vmmigrate.exe ;;
  *) exe=kubectl-vmmigrate ;;
esac

built="built with --profile $profile"
if [ -z "$binary" ]; then
  if [ "$target" = "$(rustc -vV | sed -n 's/^host: //p')" ]; then
    cargo build --locked -p kubectl-vmmigrate --bin kubectl-vmmigrate --profile "$profile"
    binary=${CARGO_TARGET_DIR:-target}/$profile/$exe
  else
    cargo build --locked -p kubectl-vmmigrate --bin kubectl-vmmigrate --profile "$profile" --target "$target"
    binary=${CARGO_TARGET_DIR:-target}/$target/$profile/$exe
  fi
  [ "$profile" != dev ] || binary=$(echo "$binary" | sed 's#/dev/#/debug/#')
else
  built="given with --binary"
fi
[ -f "$binary" ] || { echo "release.sh: no binary at $binary" >&2; exit 1; }

mkdir -p "$out"
archive=kubectl-vmmigrate_${version}_${target}.tar.gz
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$binary" "$stage/$exe"
chmod 0755 "$stage/$exe"
cp LICENSE "$stage/LICENSE"
files="$exe LICENSE"
case "$target" in
  *windows*) ;;
  *) cp completions/kubectl_complete-vmmigrate "$stage/"; chmod 0755 "$stage/kubectl_complete-vmmigrate"
     files="$exe kubectl_complete-vmmigrate LICENSE" ;;
esac
# Reproducible with GNU tar: fixed owner, order and mtime; gzip without timestamp. (bsdtar on macOS: best effort.)
reproducible=
if tar --version 2> /dev/null | grep -q 'GNU tar'; then reproducible="--owner=0 --group=0 --numeric-owner --mtime=@0"; fi
# shellcheck disable=SC2086 # $files and $reproducible are lists of plain words
tar -C "$stage" $reproducible -cf - $files | gzip -n > "$out/$archive"
if command -v sha256sum > /dev/null; then sha256="sha256sum"; else sha256="shasum -a 256"; fi
(cd "$out" && $sha256 "$archive" > "$archive.sha256")
size=$(wc -c < "$binary" | tr -d ' ')
echo "binary: $binary ($built): $size bytes ($((size / 1024)) KiB)"
echo "archive: $out/$archive ($(wc -c < "$out/$archive" | tr -d ' ') bytes) sha256 $(cut -d ' ' -f 1 "$out/$archive.sha256")"

# Render the manifest: {{version}}, then one {{sha256 TRIPLE}} per platform from $out/<archive>.sha256.
rendered=$(sed "s/{{version}}/$version/g" scripts/krew-manifest.yaml.tmpl)
for triple in $(sed -n 's/^ *sha256: {{sha256 \(.*\)}}$/\1/p' scripts/krew-manifest.yaml.tmpl); do
  sums=$out/kubectl-vmmigrate_${version}_${triple}.tar.gz.sha256
  if [ -f "$sums" ]; then
    sum=$(cut -d ' ' -f 1 "$sums")
  elif [ "$allow_placeholders" = 1 ]; then
    sum=0000000000000000000000000000000000000000000000000000000000000000
    echo "manifest: $triple: PLACEHOLDER sha256 (no $sums)" >&2
  else
    echo "release.sh: no $sums: build that platform first, or pass --allow-placeholders" >&2
    exit 1
  fi
  rendered=$(printf '%s\n' "$rendered" | sed "s/{{sha256 $triple}}/$sum/")
done
printf '%s\n' "$rendered" | sed '/^apiVersion:/,$!d' > "$manifest.tmp"
{
  echo "# Rendered by scripts/release.sh from scripts/krew-manifest.yaml.tmpl: do not edit."
  cat "$manifest.tmp"
} > "$manifest"
rm -f "$manifest.tmp"
echo "manifest: $manifest ($version)"
