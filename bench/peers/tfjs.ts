// tfjs-webgpu as a peer: the same Dawn adapter, in the same process. tfjs looks for
// navigator.gpu, which Node does not have, so we give it a Dawn GPU object and keep it
// referenced for the life of the process (a collected Dawn instance crashes event processing).

import { create } from 'webgpu';
import { installWebGpuGlobals } from '../../src/runtime/node.ts';
import type { BenchPeer } from '../types.ts';

type Tf = typeof import('@tensorflow/tfjs-core');

let tfPromise: Promise<Tf | undefined> | undefined;
let keptGpu: unknown;

/** tfjs-core with the webgpu backend active, or undefined (with the reason on stderr) when it cannot start. */
export function loadTfjs(): Promise<Tf | undefined> {
  tfPromise ??= (async () => {
    try {
      installWebGpuGlobals();
      const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
      if (!g.navigator?.gpu) {
        keptGpu = create([]);
        Object.defineProperty(globalThis, 'navigator', { value: { ...(g.navigator ?? {}), gpu: keptGpu }, configurable: true, writable: true });
      }
      const tf = await import('@tensorflow/tfjs-core');
      await import('@tensorflow/tfjs-backend-webgpu');
      if (!(await tf.setBackend('webgpu'))) throw new Error('setBackend(webgpu) returned false');
      await tf.ready();
      return tf;
    } catch (e) {
      process.stderr.write(`tfjs-webgpu peer unavailable: ${String((e as Error).message ?? e).split('\n')[0]}\n`);
      return undefined;
    }
  })();
  return tfPromise;
}

/** Makes a peer from tfjs code: `step` records one run and returns its result tensor(s). */
export async function tfjsPeer(name: string, setup: (tf: Tf) => { step(): import('@tensorflow/tfjs-core').Tensor; dispose(): void }): Promise<BenchPeer | undefined> {
  const tf = await loadTfjs();
  if (!tf) return undefined;
  const s = setup(tf);
  let last: import('@tensorflow/tfjs-core').Tensor | undefined;
  return {
    name,
    run() {
      last?.dispose();
      last = s.step();
    },
    async sync() {
      // tfjs submits in order on one queue: reading the last result waits for all runs.
      if (last) await last.data();
    },
    dispose() {
      last?.dispose();
      last = undefined;
      s.dispose();
    },
  };
}

/** tf.matMul(x, w, false, true): X [M, K] times W [N, K]^T in f32. */
export function tfjsMatMulPeer(M: number, N: number, K: number): Promise<BenchPeer | undefined> {
  return tfjsPeer('tfjs-webgpu matMul f32', (tf) => {
    const x = tf.randomUniform([M, K], -1, 1, 'float32');
    const w = tf.randomUniform([N, K], -1, 1, 'float32');
    return {
      step: () => tf.matMul(x, w, false, true),
      dispose: () => {
        x.dispose();
        w.dispose();
      },
    };
  });
}
