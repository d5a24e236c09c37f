#!/bin/sh
# Build Rolegate's wheel from a source tree: deploy/build-wheel.sh SOURCE_DIR OUT_DIR
# The Dockerfile's build stage and tests/packaging run exactly this.
# PIP_WHEEL_ARGS adds pip options (the tests pass --no-build-isolation to stay offline).
set -eu
src=${1:?usage: build-wheel.sh SOURCE_DIR OUT_DIR}
out=${2:?usage: build-wheel.sh SOURCE_DIR OUT_DIR}
python=${PYTHON:-python3}
mkdir -p "$out"
# shellcheck disable=SC2086 # PIP_WHEEL_ARGS is a list of options on purpose
"$python" -m pip wheel --no-deps --quiet ${PIP_WHEEL_ARGS:-} --wheel-dir "$out" "$src"
ls "$out"/rolegate-*.whl
