#!/usr/bin/env bash
# Makes the Debian base image the Dockerfile names (debian:bookworm-slim) on a Docker
# engine that cannot pull images: debootstraps a minimal bookworm root filesystem from
# Debian's package mirror, imports it and tags it. Does nothing when the tag exists.
# The root filesystem tarball is cached under ~/.cache so a later run (after the image
# was removed) imports it again without downloading.
#   deploy/base-image.sh [TAG]
set -euo pipefail
tag="${1:-debian:bookworm-slim}"
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag: present"
  exit 0
fi
cache="${SPARKLING_BASE_CACHE:-$HOME/.cache/sparkling-deploy}"
tarball="$cache/debian-bookworm-minbase.tar"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if [ ! -s "$tarball" ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  if ! command -v debootstrap >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq debootstrap
  fi
  mkdir -p "$cache"
  root="$(mktemp -d "$cache/rootfs.XXXXXX")"
  echo "base image $tag: debootstrapping bookworm from $mirror (a few minutes, once per machine)"
  $SUDO debootstrap --variant=minbase bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
    tail -20 "$cache/debootstrap.log" >&2
    $SUDO rm -rf "$root"
    exit 1
  }
  # What the slim image leaves out: package lists and caches.
  $SUDO rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
  $SUDO tar -C "$root" -cf "$tarball.tmp" .
  $SUDO rm -rf "$root"
  mv "$tarball.tmp" "$tarball"
fi
docker import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$tarball" "$tag" >/dev/null
echo "base image $tag: imported from $tarball"
