#!/usr/bin/env bash
# Makes sure the tools the tests run for real are on this machine: OpenSSH (the target hosts and
# ssh-keygen -Y, the reference for signatures), age (the reference for encryption), GNU tar and
# zstd (the references for bundles), rsync (the baseline of the deploy benchmark), gzip, shasum and
# openssl (what hosts without zstd or sha256sum use), original-awk and busybox (the awks of BSD and
# macOS hosts, and of Alpine ones, beside Debian's mawk), systemd's libsystemd-shared read through
# python3's ctypes (the reference for EnvironmentFile= parsing), jq (the commands of
# docs/verify-by-hand.md), what docs/host-setup.md has a host install and use (sudo, setfacl,
# setpriv, curl), gh (brr takes its token from `gh auth token`) and script (brr's tables on a real
# terminal). Installs them with apt-get when running as root; otherwise names what is missing and
# fails. Tests never skip for want of a tool.
set -euo pipefail

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 24 ]; then
  echo "ensure-tools: npm scripts run on Node $(node --version); expected Node 24 from the 'node' devDependency. Run 'npm ci' first." >&2
  exit 1
fi

declare -A package_of=(
  [/usr/sbin/sshd]=openssh-server
  [ssh]=openssh-client
  [ssh-keygen]=openssh-client
  [age]=age
  [age-keygen]=age
  [tar]=tar
  [zstd]=zstd
  [sha256sum]=coreutils
  [setsid]=util-linux
  [systemctl]=systemd
  [python3]=python3
  [jq]=jq
  [ssh-keyscan]=openssh-client
  [sudo]=sudo
  [visudo]=sudo
  [setfacl]=acl
  [setpriv]=util-linux
  [curl]=curl
  [gh]=gh
  [script]=bsdutils
  [rsync]=rsync
  [gzip]=gzip
  [shasum]=perl
  [openssl]=openssl
  [original-awk]=original-awk
  [busybox]=busybox
)

missing=()
for tool in "${!package_of[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${package_of[$tool]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-tools: the tests need these Debian packages: ${packages}. Install them (sudo apt-get install -y ${packages}) and run again." >&2
  exit 1
fi
echo "ensure-tools: installing ${packages}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends ${packages} >/dev/null
for tool in "${!package_of[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "ensure-tools: $tool is still missing after installing ${packages}" >&2; exit 1; }
done
