#!/bin/sh
# Fetches the real photographs the image codec tests compare against Pillow: the five JPEGs in
# Debian's darknet package (dog, eagle, giraffe, horses, kite), into .testdata/darknet/.
# The package itself is not installed (it depends on OpenCV); its .deb is downloaded and only
# those files are extracted. Safe to run repeatedly: it does nothing once the files are there.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
target="$root/.testdata/darknet"
images="dog eagle giraffe horses kite"

complete=yes
for name in $images; do
    [ -s "$target/$name.jpg" ] || complete=no
done
[ "$complete" = yes ] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

cd "$work"
# The package lists may be missing or stale on a fresh machine; refresh them only when needed.
if ! apt-get download darknet >/dev/null 2>&1; then
    echo "fetch_test_images: refreshing the apt package lists" >&2
    apt-get update -qq
    apt-get download darknet
fi
deb=$(ls darknet_*.deb 2>/dev/null | head -n 1)
if [ -z "$deb" ]; then
    echo "fetch_test_images: apt-get download darknet produced no .deb" >&2
    exit 1
fi

members=""
for name in $images; do
    members="$members ./usr/share/darknet/data/$name.jpg"
done
# shellcheck disable=SC2086 # the member list is deliberately split into words
dpkg-deb --fsys-tarfile "$deb" | tar -x -f - $members

mkdir -p "$target"
for name in $images; do
    cp "usr/share/darknet/data/$name.jpg" "$target/$name.jpg.tmp"
    mv "$target/$name.jpg.tmp" "$target/$name.jpg"
done
echo "fetch_test_images: wrote $(echo $images | wc -w) JPEGs to $target"
