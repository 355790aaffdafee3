#!/usr/bin/env bash
# What a cluster user runs, end to end, in one prepared call: at most 8 minutes on one H100
# (VALIDATE_DEVICE=cuda, the default), or the same steps at tiny sizes on the CPU
# (VALIDATE_DEVICE=cpu, run by tests/test_validate_script.py). Exit status 0 only when every step
# passed; each step has its own time limit, so one that hangs does not take the others with it.
#
# Steps (the name, then what it runs):
#   train-ddp-bf16      train.py fit: the embedded default through DDP (one process per GPU; 2 gloo
#                       processes on the CPU) in bf16-mixed, W&B offline (disabled where not installed)
#   inversion-bf16      evaluate.py inversion: Lite0's eight default layers, mv2016 and the inverting
#                       network just trained, bf16-mixed (the network pass in bf16, the rest float32)
#   inversion-compiled  the same at two layers with --execution.compile true
#   presets             every optimisation preset at one layer
#   faces-bf16          evaluate.py inverse-problems with the DCGAN face generator, every operator
#                       (compressed sensing: Gaussian and circulant), radii tuned, bf16-mixed
#   visualise           evaluate.py visualise: class visualisations on the device
#   more-ranks          3 gloo processes on 2 images (CPU only: one GPU cannot hold 3 NCCL ranks)
#   memory              benchmarks/study_memory.py: peak memory of 8 layers against 1, for Lite0 and
#                       ResNet-50/VGG16-sized random networks (fails above +15 %)
#   throughput          benchmarks/inversion_throughput.py: Lite0 → block8 at 224², batch 64, bf16 and
#                       compiled, with the host waits per iteration (and, on CUDA, the synchronisations
#                       torch.cuda.set_sync_debug_mode reports)
#
# Through the device tool (prepare the wheels once here: bash benchmarks/gpu/wheels.sh):
#   run(command="bash benchmarks/gpu/validate.sh", carry=[".whl"], timeout_s=540)
# Everything printed also goes to $OUT/validate.log; $OUT/validate_summary.md is the table of steps.
# Set VALIDATE_NET to another zoo network to validate the same steps on it (a wrong name fails them),
# and VALIDATE_STEPS to the names of the steps to run (default: all).
set -u
device=${VALIDATE_DEVICE:-cuda}
net=${VALIDATE_NET:-efficientnet_lite0}
steps=${VALIDATE_STEPS:-all}
OUT=${OUT:-validate_out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export PYTHONUNBUFFERED=1 PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" WANDB_MODE=offline WANDB_SILENT=true
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
log="$OUT/validate.log"
summary="$OUT/validate_summary.md"
: > "$log"
printf '| step | exit status | seconds |\n|---|---|---|\n' > "$summary"
failed=0

step() {  # step NAME SECONDS COMMAND...: run one step under its own time limit, record it
    local name=$1 limit=$2; shift 2
    [ "$steps" = all ] || [[ " $steps " == *" $name "* ]] || return 0
    echo "### $name: $* (limit ${limit} s)" | tee -a "$log"
    local start=$SECONDS
    timeout "$limit" "$@" 2>&1 | grep -v -e '^Running HiGHS' -e '^Includes third' -e 'LeafSpec' | tee -a "$log"
    local status=${PIPESTATUS[0]}
    echo "### $name: exit status $status after $((SECONDS - start)) s" | tee -a "$log"
    printf '| %s | %s | %s |\n' "$name" "$status" "$((SECONDS - start))" >> "$summary"
    [ "$status" -eq 0 ] || failed=1
}

if [ "$device" = cuda ]; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$log"
    ranks=1 crop=128 scale=0.1 budget=30 ilo=(--ilo_steps 50 50 25 25) size=128
    images=()  # the 22 held-out photos
    memory=(--crop 128 --iterations-scale 0.05)
    throughput=(--sizes 224 --batch-sizes 64 --layers block8 --paths default bf16 compiled --iterations 30 --repeats 2
                --peak-dtype bfloat16 --peak-size 8192 --sync-debug)
    train=(--trainer.limit_train_batches 8 --trainer.limit_val_batches 2)
else
    ranks=2 crop=32 scale=0.005 budget=3 ilo=(--ilo_steps 2 2 1 1 --restarts 1 --validation_samples 2 --in_range 1 --measurements 300) size=32
    python3 -c "
import sys, skimage.data
from PIL import Image
for name in ('astronaut', 'coffee'):
    Image.fromarray(getattr(skimage.data, name)()[100:132, 150:182]).save(f'{sys.argv[1]}/{name}.png')" "$OUT"
    images=(--images.files "$OUT/astronaut.png" "$OUT/coffee.png")
    memory=(--crop 32 --iterations-scale 0.005 --nets "$net")
    throughput=(--sizes 32 --batch-sizes 2 --layers block1 --paths default bf16 --iterations 3 --repeats 1)
    train=(--trainer.limit_train_batches 1 --trainer.limit_val_batches 1 --data.init_args.crop_size 32 --data.init_args.resize 48
           --data.init_args.batch_size 2 --data.init_args.eval_crops center --model.init_args.layer block1)
fi
python3 -c "import torch, lightning; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'lightning', lightning.__version__)" | tee -a "$log"
wandb=offline
python3 -c "import wandb" 2>/dev/null || { wandb=disabled; echo "wandb is not installed here: --wandb disabled" | tee -a "$log"; }
study=(--wandb "$wandb" --progress false --report_root "$OUT/reports" --trainer.accelerator "$device")

step train-ddp-bf16 150 python3 train.py fit --model.init_args.net "$net" --trainer.accelerator "$device" --trainer.devices "$ranks" \
    --trainer.strategy ddp --trainer.precision bf16-mixed --trainer.max_epochs 1 "${train[@]}" --wandb "$wandb" \
    --checkpoint_root "$OUT/checkpoints" --experiment trained
step inversion-bf16 120 python3 evaluate.py inversion --network.name "$net" --optimisation.presets mv2016 --network.layers null --optimisation.iterations_scale "$scale" \
    --images.crop_size "$crop" "${images[@]}" --checkpoints "$OUT/checkpoints" --trainer.precision bf16-mixed --experiment bf16 "${study[@]}"
step inversion-compiled 180 python3 evaluate.py inversion --network.name "$net" --optimisation.presets mv2016 --network.layers block1 block4 --optimisation.iterations_scale "$scale" \
    --images.crop_size "$crop" "${images[@]}" --checkpoints "" --execution.compile true --experiment compiled "${study[@]}"
step presets 120 python3 evaluate.py inversion --network.name "$net" --network.layers block4 --optimisation.budget "$budget" --images.crop_size "$crop" "${images[@]}" \
    --checkpoints "" --optimisation.presets mv2016 mv2016-calibrated mv2015 gd-plain deepinversion lucent plugin mv2016+bn mv2016-fourier \
    --experiment presets "${study[@]}"
step faces-bf16 120 python3 evaluate.py inverse-problems --config configs/evaluate/faces.yaml \
    --operators inpaint-pixels inpaint-box denoise super-resolution cs-gaussian cs-circulant "${ilo[@]}" \
    --trainer.precision bf16-mixed --experiment faces "${study[@]}"
step visualise 60 python3 evaluate.py visualise --network.name "$net" --classes 1 967 --optimisation.budget "$budget" --canvas.size "$size" --experiment visualise "${study[@]}"
if [ "$device" = cpu ]; then
    step more-ranks 90 python3 evaluate.py inversion --network.name "$net" --optimisation.presets mv2016 --network.layers stem --optimisation.iterations_scale "$scale" \
        --images.crop_size "$crop" "${images[@]}" --checkpoints "" --images.batch_size 1 --trainer.devices 3 --trainer.strategy ddp \
        --experiment ranks "${study[@]}"
fi
step memory 150 python3 benchmarks/study_memory.py --device "$device" "${memory[@]}"
step throughput 120 python3 benchmarks/inversion_throughput.py --device "$device" --nets "$net" "${throughput[@]}"

echo | tee -a "$log"
tee -a "$log" < "$summary"
exit "$failed"
