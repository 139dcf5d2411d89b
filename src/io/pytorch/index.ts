// PyTorch checkpoints (torch.save zip and legacy files) read safely, as a TensorSource.
export { PytorchCheckpoint, MAX_PICKLE_BYTES, type PytorchLayout } from './checkpoint.ts';
export { isPytorchCheckpointPath } from './detect.ts';
export { STATE_DICT_KEYS, type JsonLike } from './state-dict.ts';
