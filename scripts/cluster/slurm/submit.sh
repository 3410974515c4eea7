#!/usr/bin/env bash
# Submits a whole biomedica build as five dependent Slurm jobs and returns at once:
#   plan (extract --plan-only) → extract array → extract finish → load array → load finish
# The finish steps are plain runs: they redo what a failed array task left (afterany: they run even
# when a task failed) and change nothing when the workers finished everything.
#   usage: BIOMEDICA_OUT=/shared/pmc scripts/cluster/slurm/submit.sh [workers]   (default 8)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-8}
: "${BIOMEDICA_OUT:?set BIOMEDICA_OUT to the shared output folder, e.g. /shared/pmc}"
export BIOMEDICA_OUT

job() { sbatch --parsable --export=ALL "$@"; }
plan=$(job "$here/biomedica.sbatch" extract --plan-only)
extract=$(job --dependency="afterok:$plan" --array="0-$((n - 1))" "$here/biomedica.sbatch" extract)
extract_finish=$(job --dependency="afterany:$extract" "$here/biomedica.sbatch" extract)
load=$(job --dependency="afterok:$extract_finish" --array="0-$((n - 1))" "$here/biomedica.sbatch" load)
load_finish=$(job --dependency="afterany:$load" "$here/biomedica.sbatch" load)
echo "submitted: plan $plan, extract $extract, finish $extract_finish, load $load, finish $load_finish"
echo "follow with: squeue --me; logs in biomedica-<job>_<task>.log"
