import { afterAll, describe, expect, it } from 'vitest';
import { closeNullBackendDevice, tintDiagnostics } from '../helpers/null-backend.ts';
import type { KernelProgram } from '../../src/runtime/program.ts';

function program(body: string): KernelProgram {
  return {
    name: 'probe',
    key: 'probe',
    wgsl: body,
    workgroupSize: [32, 1, 1],
    bindings: [{ name: 'Y', type: 'f32', access: 'read_write' }],
    dispatch: 1,
    enables: ['f16', 'subgroups', 'chromium_experimental_subgroup_matrix'],
  };
}

describe('Tint on the null backend', () => {
  afterAll(closeNullBackendDevice);

  it('accepts subgroup-matrix WGSL and reports errors in bad WGSL', async () => {
    const good = await tintDiagnostics(
      program(`var<workgroup> xs: array<f16, 256>;
@compute @workgroup_size(WORKGROUP_SIZE)
fn main() {
  var acc = subgroup_matrix_result<f32, 16, 16>();
  acc = subgroupMatrixMultiplyAccumulate(subgroup_matrix_left<f16, 16, 16>(), subgroup_matrix_right<f16, 16, 16>(), acc);
}`),
    );
    expect(good.errors).toEqual([]);
    const bad = await tintDiagnostics(
      program(`@compute @workgroup_size(WORKGROUP_SIZE)
fn main() {
  var acc = subgroup_matrix_result<f32, 16, 16>();
  acc = subgroupMatrixMultiplyAccumulate(subgroup_matrix_left<f32, 16, 16>(), subgroup_matrix_right<f16, 16, 16>(), acc);
}`),
    );
    expect(bad.errors.length).toBeGreaterThan(0);
  });
});
