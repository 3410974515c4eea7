#!/usr/bin/env bash
# GPU throughput of the embed stage (issue 8), as one short session:
#   1. ONNX Runtime WebGPU (Dawn on Vulkan) with the generated ViT-L/14 (4 registers, random
#      weights), float32 and float16, batch 64 at 224 px: the bare session and the embed stage
#      (JPEG decoding included) on the same batches (scripts/bench/embed.ts);
#   2. the same on CUDA when its provider is installed;
#   3. the ceiling: PyTorch bf16 for the same shape (scripts/bench/torch_vit.py).
# The goal is ≥ 1,000 images/s for ViT-L/14 on one H100-class card. One JSON line per
# measurement in $OUT/gpu-embed.jsonl ($OUT defaults to bench-out).
#
# On a GPU machine with Node.js and this repo after `npm ci`:   bash scripts/bench/gpu-embed.sh
#
# The project's device machine has no Node.js and no network. Prepare here, once:
#   bash scripts/bench/gpu-embed.sh --pack    # .gpu/: node (xz), bundled scripts, native modules, ~50 MB
#   plus the Vulkan loaders in .gl/ (/work/.library/device/README.md: apt-get download libvulkan1 …)
# then run there with carry [".gpu", ".gl"] and timeout_s 600:   bash scripts/bench/gpu-embed.sh
# GPU_EMBED_DRY=1 runs the same steps on the CPU with a tiny model: a check of the script itself.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "${1:-}" = "--pack" ]; then
  rm -rf .gpu && mkdir -p .gpu
  # One file per script, with onnxruntime-node and sharp (native) left outside; the inference
  # worker is its own entry, found beside embed.js as in a build.
  node_modules/.bin/esbuild scripts/bench/embed.ts scripts/make-models.ts src/embedding/inference-worker.ts \
    --bundle --platform=node --format=esm --target=node20 --entry-names='[name]' --outdir=.gpu/app \
    --external:onnxruntime-node --external:sharp --log-level=warning \
    --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
  echo '{"type":"module"}' > .gpu/app/package.json
  tar -cJf .gpu/deps.tar.xz -C node_modules \
    onnxruntime-node/package.json onnxruntime-node/dist onnxruntime-node/bin/napi-v6/linux/x64 onnxruntime-common \
    sharp @img/colour @img/sharp-linux-x64 @img/sharp-libvips-linux-x64 detect-libc semver
  xz -T0 -6 -c "$(command -v node)" > .gpu/node.xz
  cp scripts/bench/torch_vit.py .gpu/
  du -sh .gpu
  exit 0
fi

OUT="${OUT:-bench-out}"
mkdir -p "$OUT"
RESULTS="$OUT/gpu-embed.jsonl"
WORK=/tmp/gpu-embed
rm -rf "$WORK" && mkdir -p "$WORK"

# Vulkan for Dawn: loaders carried in .gl/, the NVIDIA driver's ICD where the device machine has it.
if [ -d .gl ] && ! ldconfig -p | grep -q libvulkan; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; fi

if [ -d .gpu ]; then
  xz -dc .gpu/node.xz > "$WORK/node" && chmod +x "$WORK/node"
  cp -r .gpu/app "$WORK/app"
  mkdir -p "$WORK/app/node_modules"
  tar -xJf .gpu/deps.tar.xz -C "$WORK/app/node_modules"
  BENCH=("$WORK/node" "$WORK/app/embed.js")
  MODELS=("$WORK/node" "$WORK/app/make-models.js")
  TORCH=.gpu/torch_vit.py
else
  BENCH=(node --import tsx scripts/bench/embed.ts)
  MODELS=(node --import tsx scripts/make-models.ts)
  TORCH=scripts/bench/torch_vit.py
fi
# sharp decodes on libuv's pool: one thread per core, or decoding caps the stage.
export UV_THREADPOOL_SIZE="$(nproc)"

if [ -n "${GPU_EMBED_DRY:-}" ]; then
  SHAPE=tiny DEVICES=cpu IMAGES=64 BATCH=16
else
  SHAPE=l14 DEVICES=webgpu IMAGES=1024 BATCH=64
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/# /' | tee -a "$RESULTS"
fi
if [ -f "$WORK/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so" ] \
  || [ -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so ]; then
  DEVICES="$DEVICES cuda"
fi

for dtype in float32 float16; do
  "${MODELS[@]}" --model vit --shape "$SHAPE" --registers 4 --dtype "$dtype" --out "$WORK/vit-$dtype.onnx"
  for device in $DEVICES; do
    # A device that cannot run is a line in the results, not the end of the session.
    timeout 240 "${BENCH[@]}" --model "$WORK/vit-$dtype.onnx" --device "$device" --batch "$BATCH" --images "$IMAGES" --runs 3 --source synthetic \
      | tail -n 1 | tee -a "$RESULTS" \
      || echo "{\"bench\":\"embed\",\"device\":\"$device\",\"dtype\":\"$dtype\",\"failed\":true}" | tee -a "$RESULTS"
  done
done

if [ -z "${GPU_EMBED_DRY:-}" ]; then
  PYTHONUNBUFFERED=1 timeout 180 python3 "$TORCH" --batch 64 256 | tee -a "$RESULTS" \
    || echo '{"bench":"torch-bf16-ceiling","failed":true}' | tee -a "$RESULTS"
fi
