// The render family's entry: what graph lowering and the layers above import.
export * from './depth-reliable.ts';
export * from './image-preprocess.ts';
export * from './pointcloud.ts';
export * from './splat.ts';
