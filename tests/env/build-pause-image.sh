#!/usr/bin/env bash
# Builds the pod sandbox ("pause") image the test node's containerd starts for every pod. No
# registry is reachable, so it is compiled from the pause.c of the pinned kubernetes module and
# saved as a docker-archive tarball in the cache outside the clone. Prints the tarball's path.
# Its name must equal containerd's sandbox_image (tests/servers/node.py reads PAUSE_IMAGE below).
#
# Usage: tests/env/build-pause-image.sh KUBERNETES_VERSION
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${CONTACTSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/contactsync}
version=${1:?usage: build-pause-image.sh KUBERNETES_VERSION}
image="localhost/contactsync-test/pause:$version"
tarball="$cache/images/pause-$version.tar"

if [ -s "$tarball" ]; then
  echo "$tarball"
  exit 0
fi
mkdir -p "$cache/images"
exec 8>"$cache/images/.build.lock"
flock 8

module=$(cd "$here/kube" && go mod download -json "k8s.io/kubernetes@$version" |
  sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
source="$module/build/pause/linux/pause.c"
[ -f "$source" ] || { echo "[pause] $source not found" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -Os -static -Wall -Werror -DVERSION="$version" -o "$work/pause" "$source"
strip "$work/pause"

store=(--root "$cache/buildah/root" --runroot "$cache/buildah/run" --storage-driver overlay)
container=$(buildah "${store[@]}" from scratch)
buildah "${store[@]}" copy "$container" "$work/pause" /pause >/dev/null
buildah "${store[@]}" config --entrypoint '["/pause"]' --user 65535:65535 "$container"
buildah "${store[@]}" commit --quiet --rm "$container" "$image" >/dev/null
buildah "${store[@]}" push --quiet "$image" "docker-archive:$tarball.tmp:$image" >&2
mv "$tarball.tmp" "$tarball"
echo "$tarball"
