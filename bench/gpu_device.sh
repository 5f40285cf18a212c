#!/usr/bin/env bash
# bench/gpu_keras.py (or another bench script given first, such as bench/gpu_finetune.py) on a lent GPU machine
# (JAX, no TensorFlow, no network), in one call.
#
# Here, once: the wheels Keras needs beyond that machine's image, and a copy of the photos, in folders git ignores:
#   echo /.whl/ >> .git/info/exclude; echo /.photos/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl keras==3.15.1 namex optree
#   cp -r ../shared/data/real-photos-dev .photos
# Then the call, carrying .whl and .photos: bash bench/gpu_device.sh [bench/SCRIPT.py] [its arguments]
# Output (log.txt, machine.txt, gk/*.csv, runs.tgz) goes to $OUT, or ./gpu-out where OUT is not set.
set -o pipefail
script=bench/gpu_keras.py
case $1 in *.py) script=$1; shift ;; esac
out=${OUT:-gpu-out}
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 KERAS_BACKEND=jax
# Runs of the same graph (a variant's other seeds) reuse the first one's compilation.
export JAX_COMPILATION_CACHE_DIR=/tmp/jaxcache JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; lscpu | grep "Model name"
  python3 -c "import jax, keras, numba, numpy; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__, 'numba', numba.__version__, 'numpy', numpy.__version__)" 2>&1 | tail -1
} | tee "$out/machine.txt"
photos=(); [ -d .photos ] && photos=(--photos .photos)
python3 "$script" --out "$out/gk" "${photos[@]}" "$@" 2>&1 | grep -v "^I0000\|^WARNING: All log" | tee "$out/log.txt"
status=$?
# A call brings back a few files only: the runs' own files (--phases converge) travel as one archive.
if [ -d "$out/gk/runs" ]; then
    rm -f "$out"/gk/runs/*.claim
    tar czf "$out/runs.tgz" -C "$out/gk" runs && rm -rf "$out/gk/runs"
fi
exit $status
