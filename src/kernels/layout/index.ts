// The layout family's entry: what graph lowering and the layers above import.
export * from './gather.ts';
export * from './resample.ts';
export * from './torch-resize.ts';
