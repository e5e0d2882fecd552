#!/usr/bin/env bash
# Set up a fresh machine (Debian packages + a virtualenv with hcc-imaging[all,dev]) and run
# one job.  Idempotent: a second run only re-installs when pyproject/constraints changed.
#
#   bash scripts/bootstrap.sh demo [--out DIR]   # the main job on the bundled sample data
#   bash scripts/bootstrap.sh test [pytest args] # the whole test suite (GUI tests under Xvfb)
#   bash scripts/bootstrap.sh setup              # only set up
set -euo pipefail
cd "$(dirname "$0")/.."
job="${1:-test}"; shift || true
VENV="${VENV:-.venv}"
export DEBIAN_FRONTEND=noninteractive

# --- 1. Debian packages -----------------------------------------------------------------
# xvfb + xcb libs: headless napari (docs/napari notes); orthanc + orthanc-dicomweb: the real
# PACS the DICOMweb tests start on loopback; dcm2niix: loader benchmark peer; dcmtk: dcmdump
# validation of exported SR/SEG; postgresql: server binaries for the study-store tests on PostgreSQL.
APT_PKGS=(xvfb xauth libgl1 libegl1 libglx-mesa0 libgl1-mesa-dri libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
  libxcb-shape0 libxcb-randr0 libxcb-xfixes0 libxcb-xkb1 libdbus-1-3 libfontconfig1
  fonts-dejavu-core orthanc orthanc-dicomweb dcm2niix dcmtk postgresql)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "[bootstrap] apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # the orthanc package starts a system service on some machines; tests start their own.
  ($SUDO service orthanc stop >/dev/null 2>&1 || true)
fi

# --- 2. Python environment --------------------------------------------------------------
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
stamp="$VENV/.hcc-imaging-stamp"
want="$(cat pyproject.toml requirements/constraints.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[bootstrap] pip install -e .[all,dev]"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -c requirements/constraints.txt -e ".[all,dev]"
  echo "$want" > "$stamp"
fi
# the measurement's and the segmentation's numba kernels: compiled once (about 10 s + 5 s) into
# the package's __pycache__, loaded from there afterwards (about 0.5 s), so no demo, test or
# first click compiles them
"$VENV/bin/python" -c "from hcc_imaging.measure._kernels import main; main()"
"$VENV/bin/python" -c "from hcc_imaging.segment._kernels import main; main()"

# --- 3. The job -------------------------------------------------------------------------
case "$job" in
  setup) echo "[bootstrap] ready: $VENV/bin/hcc-imaging" ;;
  demo)
    exec "$VENV/bin/hcc-imaging" demo "$@" ;;
  test)
    if [ -f hcc_imaging/napari_plugin/napari.yaml ]; then
      "$VENV/bin/npe2" validate --imports hcc-imaging
    fi
    export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"; chmod 700 "$XDG_RUNTIME_DIR"
    unset QT_QPA_PLATFORM   # GL layers need xcb on Xvfb, not 'offscreen'
    set +e
    # two workers (pytest-xdist), a test file per worker: the suite is CPU-bound in one process, and the
    # machines it runs on have two cores; HCC_TEST_WORKERS=0 runs it in one process
    xvfb-run -a -s "-screen 0 1920x1080x24" "$VENV/bin/python" -m pytest -p no:cacheprovider \
      -n "${HCC_TEST_WORKERS:-2}" --dist loadfile "$@"
    rc=$?
    set -e
    if [ "$rc" -eq 5 ]; then echo "[bootstrap] pytest collected no tests: failing"; exit 1; fi
    exit "$rc" ;;
  *) echo "usage: bash scripts/bootstrap.sh {demo|test|setup} [args]" >&2; exit 2 ;;
esac
