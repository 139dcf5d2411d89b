// The tuning family's entry: what graph lowering and the layers above import.
export * from './conv-autotune.ts';
export * from './gemm-autotune.ts';
export * from './output-compare.ts';
export * from './sgmatrix-check.ts';
