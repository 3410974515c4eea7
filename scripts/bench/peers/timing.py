"""What the Python peers share: the input files, read into memory first, and timed passes over
them (wall and CPU seconds, a warm-up pass first, the median pass reported), the way the
TypeScript benches time ours."""
import os
import re
import time
from collections import Counter


def read_inputs(root, pattern):
    paths = []
    for dirpath, _, names in os.walk(root):
        paths += [os.path.join(dirpath, n) for n in names if re.search(pattern, n, re.I)]
    inputs = []
    for path in sorted(paths):
        with open(path, 'rb') as f:
            inputs.append(f.read())
    return inputs


def timed_passes(work, inputs, runs=1, warmup=None):
    """`work(data)` returns a dict of counts for one input; one that raises counts as failed.
    Returns the median pass: seconds, cpuSeconds, failed and the summed counts."""

    def one_pass(batch):
        counts = Counter()
        cpu = time.process_time()
        started = time.perf_counter()
        for data in batch:
            try:
                counts.update(work(data))
            except Exception:  # a bad file is a failed item, as in ours
                counts['failed'] += 1
        return {'seconds': time.perf_counter() - started, 'cpuSeconds': time.process_time() - cpu, 'failed': 0, **counts}

    one_pass(inputs[:warmup])  # codecs loaded, caches faulted in
    passes = sorted((one_pass(inputs) for _ in range(runs)), key=lambda p: p['seconds'])
    return passes[len(passes) // 2]
