#!/usr/bin/env bash
# The Debian packages the build and the tests need beside the Pythons, installed when missing
# (as root, with apt-get: CI, a fresh machine) or named with the command to install them.
#   binutils   strip slims TrainingLayer's extension modules (layers/training/Makefile)
#   espeak-ng  speaks the clips the speech model's build gate and tests transcribe
#   nodejs npm build the web console (make console)
#   chromium   runs the console's browser tests (tests/e2e/browser, Playwright)
set -u
missing=()
command -v strip >/dev/null || missing+=(binutils)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v npm >/dev/null || missing+=(nodejs npm)
command -v chromium >/dev/null || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "missing system packages: ${missing[*]}; install them with:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  echo "(without espeak-ng the speech tests fail; without chromium the browser tests skip)" >&2
fi
