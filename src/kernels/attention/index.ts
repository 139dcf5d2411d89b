// The attention family's entry: what graph lowering and the layers above import.
export * from './attention.ts';
export * from './relbias.ts';
export { attentionUniformValues } from './common.ts';
