// The gemm family's entry: what graph lowering and the layers above import.
export * from './gemm.ts';
export * from './lora.ts';
export * from './lora-merge.ts';
export { fp8WidenProgram } from './fp8.ts';
export { blockWidenProgram } from './quant-blocks.ts';
