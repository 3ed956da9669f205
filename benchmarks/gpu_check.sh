#!/usr/bin/env bash
# The prepared GPU check (under 5 minutes on one GPU): B4 faces/s at 384 px in bf16 with channels_last (batch 64),
# float32 / float64 parity of the official-layout fixture, the SBI synthesis on the GPU against the CPU, and 50
# training steps of the official SBI recipe with DDP on one GPU; JSON per check, then a summary.
#
#   benchmarks/gpu_check.sh             # on a machine with a CUDA GPU
#   benchmarks/gpu_check.sh --dry-run   # the same checks on the CPU with tiny sizes (no GPU needed)
#
# Real faces for the training check come from $LAANET_SHARED/data/lfw (default ../shared/data/lfw).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec timeout --signal=INT 295 uv run --frozen python benchmarks/gpu_check.py "$@"
