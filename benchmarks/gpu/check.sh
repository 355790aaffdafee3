#!/usr/bin/env bash
# The GPU measurements of BENCHMARKS.md in one run, sized for a few minutes of a lent GPU (the
# `device` tool): the engine's throughput table on the GPU (eager, default, bf16, compiled at 224²,
# batches 8 and 64), Lite0 → block8 at 224², batch 64, bf16 and compiled (target ≥ 20,000
# image·it/s) with its fraction of the bf16 matmul peak, CSGM/ILO image·steps/s, and training
# images/s in fp32 and bf16. Everything it prints also goes to $OUT/gpu_check.log.
#
# Prepare once here: bash benchmarks/gpu/wheels.sh. Then, through the device tool:
#   run(command="bash benchmarks/gpu/check.sh", carry=[".whl"], timeout_s=540)
# Each step has its own time limit, so one that hangs does not take the others with it. The
# device image's own torch is used (2.11 when last read; this project pins 2.14, whose wheel is
# too large to carry): the first lines of the log say which, in case a step fails on an API.
# The argument lists were checked on the CPU (--device cpu, tiny sizes) on 2026-12-02.
set -u
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
log="$OUT/gpu_check.log"
step() {  # step SECONDS ARGS...: one benchmark under its own time limit
    local limit=$1; shift
    echo "### python3 $* (limit ${limit} s)" | tee -a "$log"
    timeout "$limit" python3 "$@" 2>&1 | grep -v -e '^Running HiGHS' -e '^Includes third' | tee -a "$log"
    echo "exit status ${PIPESTATUS[0]}" | tee -a "$log"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$log"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$log"
step 150 benchmarks/inversion_throughput.py --device cuda --sizes 224 --batch-sizes 8 64 \
    --paths eager default bf16 compiled --iterations 20 --repeats 2 --peak-dtype bfloat16 --peak-size 8192
step 120 benchmarks/inversion_throughput.py --device cuda --sizes 224 --batch-sizes 64 --layers block8 \
    --paths bf16 compiled --iterations 30 --repeats 2 --peak-dtype bfloat16 --peak-size 8192
step 60 benchmarks/ilo_throughput.py --device cuda --batch 64
step 90 benchmarks/train_throughput.py --device cuda --batch-size 64 --crop 224 --steps 20 --repeats 2
step 90 benchmarks/train_throughput.py --device cuda --batch-size 64 --crop 224 --steps 20 --repeats 2 --precision bf16 --channels-last
