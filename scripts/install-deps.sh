#!/usr/bin/env bash
# Installs the OS packages StreamMtl needs on Debian 12 / Ubuntu 24.04.
#   scripts/install-deps.sh run    packages to run the service
#   scripts/install-deps.sh test   packages to run the whole test suite (adds RTSP server, Prometheus, Python gRPC and ONNX, Chromium)
# As root it runs apt-get; otherwise it prints the exact sudo line and exits 1.
set -euo pipefail
profile="${1:-run}"

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET 10 SDK is required (dotnet not on PATH): https://learn.microsoft.com/dotnet/core/install/linux" >&2
  exit 1
fi

# Ubuntu 24.04 renamed libgtk-3-0 for the 64-bit time_t transition.
gtk=libgtk-3-0
if ! apt-cache show libgtk-3-0 >/dev/null 2>&1 && apt-cache show libgtk-3-0t64 >/dev/null 2>&1; then
  gtk=libgtk-3-0t64
fi

run_pkgs=("$gtk" ffmpeg ca-certificates)
test_pkgs=(prometheus redis-server python3 python3-grpcio python3-grpc-tools python3-onnx python3-gi gir1.2-gst-rtsp-server-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav chromium)

case "$profile" in
  run) wanted=("${run_pkgs[@]}") ;;
  test) wanted=("${run_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

missing=()
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

line="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "StreamMtl needs these OS packages: ${missing[*]}" >&2
  echo "Run:  sudo sh -c '$line'" >&2
  exit 1
fi
echo "installing OS packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
