// GGUF files (quantized Wan2.1 weights): the container, read safely.
export { GgufFile, type GgufTensorInfo } from './file.ts';
export { type GgufValue } from './header.ts';
export { GGML_READ, type GgmlTypeName } from './types.ts';
export { dequantizeBlocks, type GgmlBlockType } from './dequant.ts';
