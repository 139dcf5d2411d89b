// The norm family's entry: what graph lowering and the layers above import.
export * from './channel.ts';
export * from './reduce.ts';
export * from './rows.ts';
export * from './softmax.ts';
export * from './group.ts';
