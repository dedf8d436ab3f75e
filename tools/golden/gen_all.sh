#!/bin/sh
# Regenerate every golden fixture in test/golden/ and its README (with sha256 sums).
# Needs Debian's python3 with torch 1.13 and numpy (no safetensors package needed).
set -eu
cd "$(dirname "$0")/../.."
PY="${PYTHON:-/usr/bin/python3}"
export PYTHONDONTWRITEBYTECODE=1
rm -f test/golden/*.safetensors
"$PY" tools/golden/gen_foundation.py
"$PY" tools/golden/gen_recurrent.py
"$PY" tools/golden/gen_gpt.py
"$PY" tools/golden/gen_rwkv.py
"$PY" tools/golden/gen_mamba.py
"$PY" tools/golden/gen_torch.py
"$PY" tools/golden/gen_tokenizers.py
"$PY" tools/golden/gen_onnx_export.py
"$PY" tools/golden/common.py
"$PY" tools/golden/selfcheck.py
