#!/usr/bin/env bash
# Installs the Debian packages Rewind builds with, when any is missing.
# As root it runs apt-get; otherwise it prints the exact command to run.
# Boost is pinned to 1.81: Debian's default 1.74 Asio does not build in C++23 with g++ 12.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config make ccache
  liblmdb-dev lmdb-utils libflatbuffers-dev flatbuffers-compiler libboost1.81-dev
  libspdlog-dev librapidcheck-dev libgtest-dev libgmock-dev libcli11-dev
  nlohmann-json3-dev libssl-dev libxxhash-dev libbenchmark-dev libsqlite3-dev
  libnats-dev nats-server
)
if [[ "${REWIND_WITH_CLANG:-0}" == 1 ]]; then
  packages+=(clang-19 libclang-rt-19-dev)
fi
# The Run Console's browser tests: Debian's chromium, and Node.js with npm
# when no node is installed (puppeteer-core comes from npm, below).
browser=${REWIND_WITH_BROWSER:-0}
if [[ "$browser" == 1 ]]; then
  packages+=(chromium)
  command -v node >/dev/null || packages+=(nodejs npm)
fi

# puppeteer-core as tests/console/package-lock.json pins it; again only when
# the lock file changed since the last install.
npm_install() {
  [[ "$browser" == 1 ]] || return 0
  local dir=tests/console
  cmp -s "$dir/package-lock.json" "$dir/node_modules/.rewind-installed-lock" 2>/dev/null && return 0
  echo "Installing the browser tests' npm packages (tests/console/package-lock.json)" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$dir/package-lock.json" "$dir/node_modules/.rewind-installed-lock"
}

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  npm_install
  exit 0
fi

apt_opts=(-o DPkg::Lock::Timeout=300)
install_cmd="apt-get ${apt_opts[*]} update && apt-get ${apt_opts[*]} install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "Rewind needs these Debian packages: ${missing[*]}" >&2
  echo "Run as root: $install_cmd" >&2
  exit 1
fi
echo "Installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get "${apt_opts[@]}" update -q >/dev/null
apt-get "${apt_opts[@]}" install -y -q --no-install-recommends "${missing[@]}" >/dev/null
npm_install
