import { afterAll, describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { closeNullBackendDevice, tintDiagnostics } from '../../helpers/null-backend.ts';
import { SubgroupMatrixWgsl, usableSgmShapes, type Majorness, type SgmShape } from '../../../src/kernels/shared/subgroup-matrix.ts';
import type { KernelProgram } from '../../../src/runtime/program.ts';
import { roundThrough } from '../../../src/runtime/dtype.ts';

const device = useDevice();

/**
 * One workgroup of two subgroups; subgroup s computes C_s = A B_s + C0 where A is M x K
 * (row-major at stride K + 3 in `sa`), B_s is K x N stored as [N][K] (column-major, the
 * layout of a PyTorch weight), and stores C_s with the given majorness into `cs`.
 */
function probeProgram(shape: SgmShape, emulate: boolean, storeMajor: Majorness): KernelProgram {
  const { M, N, K } = shape;
  const lanes = 8;
  const threads = 2 * lanes;
  const sgm = new SubgroupMatrixWgsl(shape, { emulate, lanes });
  const lda = K + 3;
  const aLen = M * lda;
  const bLen = 2 * N * K;
  const cStride = storeMajor === 'row_major' ? N : M;
  const body = `
  for (var i = lid; i < ${aLen}u; i += ${threads}u) { sa[i] = ${shape.component}(A[i]); }
  for (var i = lid; i < ${bLen}u; i += ${threads}u) { sb[i] = ${shape.component}(B[i]); }
  workgroupBarrier();
  let s = ${sgm.subgroupIndex('lid')};
  if (s < 2u) {
    let l = ${sgm.loadLeft({ name: 'sa', elem: shape.component }, '0u', 'row_major', `${lda}u`)};
    let r = ${sgm.loadRight({ name: 'sb', elem: shape.component }, `s * ${N * K}u`, 'col_major', `${K}u`)};
    var acc = ${sgm.zero()};
    acc = ${sgm.mma('l', 'r', 'acc')};
    acc = ${sgm.mma('l', 'r', 'acc')};
    ${sgm.store({ name: 'cs', elem: 'f32' }, `s * ${M * N}u`, 'acc', storeMajor, `${cStride}u`, 'lid')}
  }
  workgroupBarrier();
  for (var i = lid; i < ${2 * M * N}u; i += ${threads}u) { C[i] = cs[i]; }`;
  return {
    name: 'sgm-probe',
    key: `sgm-probe:${emulate}:${M}x${N}x${K}${shape.component}:${storeMajor}`,
    wgsl: `${sgm.prelude()}
var<workgroup> sa: array<${shape.component}, ${aLen}>;
var<workgroup> sb: array<${shape.component}, ${bLen}>;
var<workgroup> cs: array<f32, ${2 * M * N}>;
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_index) lid: u32${sgm.mainParams() ? ', ' + sgm.mainParams() : ''}) {${body}
}`,
    workgroupSize: [emulate ? threads : 64, 1, 1],
    bindings: [
      { name: 'A', type: 'f32', access: 'read' },
      { name: 'B', type: 'f32', access: 'read' },
      { name: 'C', type: 'f32', access: 'read_write' },
    ],
    dispatch: 1,
    enables: sgm.enables(),
  };
}

const SHAPES: SgmShape[] = [
  { M: 8, N: 8, K: 8, component: 'f32', result: 'f32' }, // Apple simdgroup_float8x8
  { M: 16, N: 16, K: 16, component: 'f16', result: 'f32' }, // NVIDIA tensor cores
  { M: 8, N: 16, K: 16, component: 'f16', result: 'f32' }, // Intel XMX
];

describe('subgroup-matrix WGSL (emulated on this adapter, real form through Tint)', () => {
  afterAll(closeNullBackendDevice);

  for (const shape of SHAPES) {
    for (const major of ['row_major', 'col_major'] as const) {
      it(`${shape.component} ${shape.M}x${shape.N}x${shape.K}, store ${major}: emulation matches float64`, async () => {
        const dev = await device();
        const { M, N, K } = shape;
        const lda = K + 3;
        const a = roundThrough(randomF32(M * lda, 1), shape.component);
        const b = roundThrough(randomF32(2 * N * K, 1), shape.component);
        const out = dev.empty([2 * M * N], 'f32');
        await dev.write(out, new Uint8Array(out.byteLength).fill(0xff));
        dev.run(probeProgram(shape, true, major), [await dev.upload(a, [a.length], 'f32'), await dev.upload(b, [b.length], 'f32'), out]);
        const want = new Float64Array(2 * M * N);
        for (let s = 0; s < 2; s++) {
          for (let i = 0; i < M; i++) {
            for (let j = 0; j < N; j++) {
              let acc = 0;
              for (let k = 0; k < K; k++) acc += a[i * lda + k]! * b[s * N * K + j * K + k]!;
              want[s * M * N + (major === 'row_major' ? i * N + j : j * M + i)] = 2 * acc;
            }
          }
        }
        expect(relL2(await dev.read(out), want)).toBeLessThanOrEqual(1e-6);
      });
    }
    it(`${shape.component} ${shape.M}x${shape.N}x${shape.K}: the real form passes Tint with no warnings`, async () => {
      for (const major of ['row_major', 'col_major'] as const) {
        expect(await tintDiagnostics(probeProgram(shape, false, major))).toEqual({ errors: [], warnings: [] });
      }
    });
  }

  it('orders the adapter configs: f32 results, f16 inputs, then size; integer configs dropped', () => {
    const shapes = usableSgmShapes([
      { componentType: 'i8', resultComponentType: 'i32', M: 8, N: 8, K: 32 },
      { componentType: 'f16', resultComponentType: 'f16', M: 16, N: 16, K: 16 },
      { componentType: 'f32', resultComponentType: 'f32', M: 8, N: 8, K: 8 },
      { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 },
      { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 8, K: 16 },
    ]);
    expect(shapes.map((s) => `${s.component}${s.M}x${s.N}x${s.K}${s.result}`)).toEqual([
      'f16' + '16x16x16' + 'f32',
      'f16' + '16x8x16' + 'f32',
      'f32' + '8x8x8' + 'f32',
      'f16' + '16x16x16' + 'f16',
    ]);
  });
});
