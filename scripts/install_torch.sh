#!/usr/bin/env bash
# Install the CPU build of torch into the environment of the given pip, on any machine.
#
# PyPI's Linux torch wheel is the CUDA build (several GB of nvidia-* wheels). On Linux the
# CPU build, torch==VERSION+cpu, comes from the package indexes pip is configured with when
# one of them holds it (a local mirror, as on the project's build machines), otherwise from
# the PyTorch project's CPU wheel index. macOS and Windows get PyPI's default wheel, which is
# CPU-only there. The result is checked: an install that ends with a CUDA build fails.
#
# usage: scripts/install_torch.sh PIP [VERSION]
#   TORCH_CPU_INDEX   the CPU wheel index (default https://download.pytorch.org/whl/cpu)
set -euo pipefail
PIP=${1:?usage: install_torch.sh PIP [VERSION]}
VERSION=${2:-2.13.0}
CPU_INDEX=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
PYTHON=$(dirname "$PIP")/python

if [ "$(uname -s)" != "Linux" ]; then
  "$PIP" install -q "torch==$VERSION"
elif "$PIP" install -q "torch==$VERSION+cpu" 2>/dev/null; then
  echo "torch $VERSION+cpu installed from the configured package index" >&2
else
  echo "torch $VERSION+cpu not in the configured package index; using $CPU_INDEX" >&2
  "$PIP" install -q "torch==$VERSION+cpu" --index-url "$CPU_INDEX" --extra-index-url https://pypi.org/simple
fi

if ! "$PYTHON" -W ignore -c "import sys, torch; sys.exit(1 if torch.version.cuda else 0)"; then
  echo "error: a CUDA build of torch was installed; reinstall with: $PIP install torch==$VERSION+cpu --index-url $CPU_INDEX" >&2
  exit 1
fi
