#!/usr/bin/env bash
# Print the path of a working python<MAJOR.MINOR> interpreter, or fail with a clear message.
# Looks on PATH (pyenv shims included), then in pyenv's and common install locations.
set -u
want=${1:?usage: find_python.sh 3.12}
candidates=("python$want")
if command -v pyenv >/dev/null 2>&1; then
  for v in $(pyenv versions --bare 2>/dev/null | grep -E "^${want//./\\.}(\.|$)" | sort -rV); do
    candidates+=("$(pyenv root)/versions/$v/bin/python$want")
  done
fi
for root in "$HOME/.pyenv/versions" /root/.pyenv/versions /opt/python /usr/local/opt; do
  for p in "$root"/"$want"*/bin/python"$want"; do candidates+=("$p"); done
done
candidates+=("/usr/bin/python$want" "/usr/local/bin/python$want")
for c in "${candidates[@]}"; do
  if out=$("$c" -c 'import sys; print(sys.executable, "%d.%d" % sys.version_info[:2])' 2>/dev/null); then
    exe=${out% *}; ver=${out##* }
    if [ "$ver" = "$want" ]; then echo "$exe"; exit 0; fi
  fi
done
echo "error: no Python $want interpreter found (looked on PATH, in pyenv and /usr)." >&2
echo "       Install one, e.g. 'pyenv install $want', or pass PYTHON${want/./}=/path/to/python$want to make." >&2
exit 1
