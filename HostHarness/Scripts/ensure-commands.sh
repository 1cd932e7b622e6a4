#!/usr/bin/env bash
# Makes sure the commands a make target needs exist, installing their Debian packages with
# apt-get when they are missing (CI starts from a fresh machine).
# Usage: ensure-commands.sh COMMAND:PACKAGE [COMMAND:PACKAGE ...]
set -euo pipefail
missing=()
for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=()
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "ensure-commands: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
echo "ensure-commands: installing ${missing[*]} with apt-get" >&2
apt() { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive timeout 900 flock /tmp/apt.lock \
        apt-get -q -y -o DPkg::Lock::Timeout=300 "$@"; }
apt update >&2 && apt install --no-install-recommends "${missing[@]}" >&2
