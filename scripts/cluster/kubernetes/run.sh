#!/usr/bin/env bash
# Runs the build: the settings, then each Job once the one before it has ended (files in name
# order). A worker Job that ends with failed indexes does not stop the build: the finish step after
# it redoes what the lost pods left. A failed plan or finish step does. Rerunning the script is safe:
# finished units and shards are kept, and each Job is replaced by a fresh one.
#   usage: scripts/cluster/kubernetes/run.sh [namespace]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ns=${1:-default}
k() { kubectl --namespace "$ns" "$@"; }

# Prints Complete or Failed once the Job has ended.
wait_job() {
  local state
  while :; do
    state=$(k get job "$1" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{"\n"}{end}' | grep -E '^(Complete|Failed)$' || true)
    if [[ -n $state ]]; then echo "$state"; return; fi
    sleep 20
  done
}

k apply -f "$here/00-settings.yaml"
for file in "$here"/[1-9]*.yaml; do
  name=$(k create --dry-run=client -o jsonpath='{.metadata.name}' -f "$file")
  k delete job "$name" --ignore-not-found --wait
  k apply -f "$file"
  state=$(wait_job "$name")
  echo "$name: $state"
  if [[ $state == Failed && $(k get job "$name" -o jsonpath='{.spec.completionMode}') != Indexed ]]; then
    echo "$name failed: see kubectl logs job/$name" >&2
    exit 1
  fi
done
