// The conv family's entry: what graph lowering and the layers above import.
export * from './conv.ts';
export * from './frame-cache.ts';
export { convUniforms } from './common.ts';
