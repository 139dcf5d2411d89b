// numpy as a peer: a python process times the same operation on the CPU (numpy's BLAS uses
// every core, like lavapipe). The first python3 with numpy wins: the one on PATH (pyenv's,
// usually OpenBLAS), then Debian's /usr/bin/python3 (reference BLAS: much slower).

import { spawnSync } from 'node:child_process';
import type { BenchPeer } from '../types.ts';

export interface NumpyInfo {
  python: string;
  version: string;
  blas: string;
}

let found: NumpyInfo | null | undefined;

export function findNumpy(): NumpyInfo | undefined {
  if (found !== undefined) return found ?? undefined;
  found = null;
  const probe = `
import numpy, json
blas = 'unknown'
try:
    cfg = numpy.show_config(mode='dicts')
    blas = cfg['Build Dependencies']['blas']['name']
except Exception:
    try:
        import numpy.distutils.system_info as si
        blas = 'openblas' if si.get_info('openblas') else ('blas' if si.get_info('blas') else 'unknown')
    except Exception:
        pass
print(json.dumps({'version': numpy.__version__, 'blas': blas}))
`;
  for (const python of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(python, ['-c', probe], { encoding: 'utf8', timeout: 30_000 });
    if (r.status === 0) {
      try {
        const info = JSON.parse(r.stdout.trim().split('\n').pop()!) as { version: string; blas: string };
        found = { python, ...info };
        break;
      } catch {
        /* try the next python */
      }
    }
  }
  return found ?? undefined;
}

/**
 * A peer whose time is measured inside python: `setup` and `stmt` are python source with
 * numpy as np; the median per-run ms of `repeats` timings of `iters` runs is printed.
 */
export function numpyPeer(name: string, setup: string, stmt: string): BenchPeer | undefined {
  const np = findNumpy();
  if (!np) return undefined;
  const script = `
import numpy as np, time, sys
${setup}
${stmt}
t = time.perf_counter(); ${stmt}; one = time.perf_counter() - t
target = float(sys.argv[1]); repeats = int(sys.argv[2])
iters = max(1, min(200, round(target / max(one, 1e-6))))
samples = []
for _ in range(repeats):
    t = time.perf_counter()
    for _ in range(iters):
        ${stmt}
    samples.append((time.perf_counter() - t) / iters)
samples.sort()
print(samples[len(samples) // 2] * 1000)
`;
  return {
    name: `${name} (numpy ${np.version}, ${np.blas})`,
    async measure({ targetMs, repeats }) {
      const r = spawnSync(np.python, ['-c', script, String(targetMs / 1000), String(repeats)], { encoding: 'utf8', timeout: 600_000 });
      if (r.status !== 0) throw new Error(`numpy peer failed: ${r.stderr.trim().split('\n').pop()}`);
      return Number(r.stdout.trim().split('\n').pop());
    },
  };
}

/** np.dot(x, w.T) in float32: X [M, K], W [N, K] (sgemm). */
export function numpyMatmulPeer(M: number, N: number, K: number): BenchPeer | undefined {
  return numpyPeer(
    'numpy sgemm',
    `x = np.random.rand(${M}, ${K}).astype(np.float32) - 0.5\nw = np.random.rand(${N}, ${K}).astype(np.float32) - 0.5`,
    'y = np.dot(x, w.T)',
  );
}
