// The elementwise family's entry: what graph lowering and the layers above import.
export * from './activation.ts';
export * from './binary.ts';
export * from './cast.ts';
export * from './rope.ts';
export * from './channels-last.ts';
