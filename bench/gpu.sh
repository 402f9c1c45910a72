#!/usr/bin/env bash
# The accelerator run in one call, sized for at most about 8 minutes on an H100/H200: writes every
# result under $OUT and prints a summary last.
#
#   on the device (run from the repository root):   bash bench/gpu.sh
#   smoke test on a CPU, tiny sizes:                 GPU_SMOKE=1 OUT=/tmp/gpu bash bench/gpu.sh
#
# 1. the CUDA tests (pytest -m cuda: bf16 training, and a CUDA-trained model forecasting on the CPU
#    alike); 2. bench/train.py on the standard workload (2,000 series x 1,000 steps, input 60,
#    horizon 12, 2x64 LSTM): the project's windows/s beside the bare-step ceiling and the tutorial
#    loop, epoch time, peak memory, time-to-accuracy at two batch sizes; 3. forecast throughput
#    for 1 M series. The GPU image has torch and numpy but not the settings' pydantic: where the
#    tests need packages it lacks, they travel as wheels in .whl/ (see bench/README.md).
set -uo pipefail
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
PY=${PY:-python3}
cd "$(dirname "$0")/.."
if compgen -G ".whl/*.whl" >/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if [ "${GPU_SMOKE:-0}" = 1 ]; then
  sizes=(--series 40 --steps 200 --epochs 2 --batch 2048 --tutorial-seconds 1 --forecast-series 20000 --tta-seconds 2)
  test_limit=300
else
  sizes=(--series 2000 --steps 1000 --epochs 5 --batch 16384 --tutorial-seconds 20 --forecast-series 1000000
         --tta-seconds 30)
  test_limit=120
fi
(nvidia-smi || echo "no nvidia-smi") >"$OUT/nvidia-smi.txt" 2>&1
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" >"$OUT/torch.txt" 2>&1

start=$SECONDS
timeout "$test_limit" $PY -m pytest -q -m cuda tests/unit -p no:cacheprovider -o addopts="" >"$OUT/cuda-tests.txt" 2>&1
tests_rc=$?
tests_s=$((SECONDS - start))

start=$SECONDS
timeout 420 $PY bench/train.py "${sizes[@]}" --out "$OUT" >"$OUT/train-stdout.txt" 2>&1
train_rc=$?
train_s=$((SECONDS - start))

echo "== $(cat "$OUT/torch.txt" | tr '\n' ' ')"
echo "== CUDA tests: rc $tests_rc in ${tests_s} s: $(tail -1 "$OUT/cuda-tests.txt")"
echo "== bench/train.py: rc $train_rc in ${train_s} s"
cat "$OUT/train-stdout.txt"
echo "== neuralforecast's LSTM, same workload on an H100 (bf16, 16,384 windows per step): 331,000 windows/s"
exit $((tests_rc != 0 || train_rc != 0))
