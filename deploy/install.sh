#!/bin/sh
# Install Rolegate's wheel into a fresh virtualenv and prepare it to serve:
#   deploy/install.sh WHEEL_DIR VENV_DIR
# 1. a new virtualenv, 2. the wheel with its production dependencies (no sandbox extra),
# 3. collectstatic into VENV_DIR/share/rolegate/static (hashed, compressed), 4. check --deploy.
# The Dockerfile's runtime stage and tests/packaging run exactly this.
# PIP_INSTALL_ARGS adds pip options (the tests pass --no-index --find-links to stay offline).
set -eu
wheels=${1:?usage: install.sh WHEEL_DIR VENV_DIR}
venv=${2:?usage: install.sh WHEEL_DIR VENV_DIR}
python=${PYTHON:-python3}
"$python" -m venv "$venv"
# shellcheck disable=SC2086 # PIP_INSTALL_ARGS is a list of options on purpose
"$venv/bin/python" -m pip install --quiet ${PIP_INSTALL_ARGS:-} "$wheels"/rolegate-*.whl

# Build-time settings for the two steps below only: production mode with placeholder secrets
# (nothing connects to them). The running container gets its real configuration at run time.
key=$("$venv/bin/python" -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())")
build_env() {
  env -i PATH="$venv/bin:/usr/bin:/bin" HOME="${HOME:-/tmp}" \
    ROLEGATE_ENV=production \
    SECRET_KEY="build-time-placeholder-$key" \
    ROLEGATE_CA_ENCRYPTION_KEY="$key" \
    ROLEGATE_AUDIT_KEY="build:$key" \
    DATABASE_URL=postgres://rolegate@127.0.0.1:1/rolegate \
    CELERY_BROKER_URL=redis://127.0.0.1:1/0 \
    REDIS_URL=redis://127.0.0.1:1/0 \
    ROLEGATE_PUBLIC_URL=https://rolegate.invalid \
    "$@"
}
build_env rolegate-server collectstatic --noinput --verbosity 0
build_env rolegate-server check --deploy --fail-level WARNING
