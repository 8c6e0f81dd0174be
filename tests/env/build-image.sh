#!/usr/bin/env bash
# Builds the project's image from ./Dockerfile and saves it as a docker-archive tarball in a
# cache outside the clone, keyed by everything that goes into it. Prints the tarball's path.
#
#   - With a Docker engine (CONTACTSYNC_BUILDER=docker, or docker present and answering):
#     `docker build` of the Dockerfile as it stands.
#   - Without one (this machine, CI): buildah builds the same Dockerfile. No registry is
#     reachable, so the base it starts FROM is made here: a Debian root filesystem by
#     mmdebstrap, trimmed as Debian's -slim images are, imported as BASE_IMAGE.
#
# Usage: tests/env/build-image.sh            build (or reuse) and print the tarball's path
#        tests/env/build-image.sh --key      print the cache key only
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${CONTACTSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/contactsync}
images="$cache/images"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/pyproject.toml" | head -n1)
image="ghcr.io/contactsync/contactsync:$version"
suite=bookworm

say() { printf '[image] %s\n' "$*" >&2; }

# The build context is what .dockerignore lets through; hash exactly that (plus the recipe),
# so a change to a test or a doc does not rebuild the image and a change to the code does.
context_key() {
  (
    cd "$root"
    {
      printf '%s\n' Dockerfile .dockerignore pyproject.toml README.md
      find api cli operator worker -type f \
        ! -path '*/__pycache__/*' ! -name '*.pyc' ! -path '*.egg-info/*' | LC_ALL=C sort
    } | while read -r file; do
      printf '%s %s\n' "$(sha256sum <"$file" | cut -c1-64)" "$file"
    done
    printf 'base %s\n' "$(base_key)"
  ) | sha256sum | cut -c1-16
}

# The base changes only when the way it is made changes.
mmdebstrap_args=(
  --variant=minbase
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --aptopt='Acquire::Languages "none"'
)
base_key() { printf '%s %s\n' "$suite" "${mmdebstrap_args[*]}" | sha256sum | cut -c1-12; }

key=$(context_key)
if [ "${1:-}" = "--key" ]; then
  echo "$key"
  exit 0
fi

mkdir -p "$images"
exec 8>"$images/.build.lock"
flock 8  # CI and a developer building at once must not write one tarball twice
tarball="$images/contactsync-$version-$key.tar"
if [ -s "$tarball" ]; then
  say "cached: $tarball"
  echo "$tarball"
  exit 0
fi

started=$(date +%s)
builder=${CONTACTSYNC_BUILDER:-}
if [ -z "$builder" ]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    builder=docker
  else
    builder=buildah
  fi
fi

case "$builder" in
docker)
  docker build --build-arg "VERSION=$version" -t "$image" "$root" >&2
  docker save -o "$tarball.tmp" "$image"
  ;;
buildah)
  for tool in buildah mmdebstrap; do
    command -v "$tool" >/dev/null || { say "$tool is missing: run tests/env/setup.sh" >&2; exit 1; }
  done
  store=(--root "$cache/buildah/root" --runroot "$cache/buildah/run" --storage-driver overlay)
  base="localhost/contactsync-base:$suite-$(base_key)"
  if ! buildah "${store[@]}" inspect --type image "$base" >/dev/null 2>&1; then
    t=$(date +%s)
    # mmdebstrap picks the output format from the name: keep the .tar suffix.
    rootfs="$images/base-$suite-$(base_key).partial.tar"
    mmdebstrap --quiet "${mmdebstrap_args[@]}" "$suite" "$rootfs" >&2
    container=$(buildah "${store[@]}" from scratch)
    buildah "${store[@]}" add "$container" "$rootfs" / >/dev/null
    buildah "${store[@]}" config --cmd /bin/bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$container"
    buildah "${store[@]}" commit --quiet --rm "$container" "$base" >/dev/null
    rm -f "$rootfs"
    say "made base $base with mmdebstrap ($(( $(date +%s) - t ))s)"
  fi
  # pip inside the build trusts the same CA bundle pip trusts here (a TLS-inspecting proxy's
  # CA, say); it is mounted for the one RUN that needs it and never stored in a layer.
  secrets=()
  ca_bundle=${PIP_CERT:-$(python3 -m pip config get global.cert 2>/dev/null || true)}
  [ -n "$ca_bundle" ] && [ -f "$ca_bundle" ] && secrets=(--secret "id=pip-ca,src=$ca_bundle")
  buildah "${store[@]}" bud --quiet --layers --isolation chroot --network host --pull-never \
    --build-arg "BASE_IMAGE=$base" --build-arg "VERSION=$version" "${secrets[@]}" \
    --tag "$image" --file "$root/Dockerfile" "$root" >&2
  buildah "${store[@]}" push --quiet "$image" "docker-archive:$tarball.tmp:$image" >&2
  ;;
*)
  say "CONTACTSYNC_BUILDER must be docker or buildah, not $builder" >&2
  exit 1
  ;;
esac
mv "$tarball.tmp" "$tarball"
# Older tarballs of this version are superseded; keep the cache from growing with each edit.
find "$images" -maxdepth 1 -name "contactsync-$version-*.tar" ! -name "$(basename "$tarball")" -delete
say "built $image with $builder in $(( $(date +%s) - started ))s: $tarball ($(du -m "$tarball" | cut -f1) MiB)"
echo "$tarball"
