// GGML tensor types a GGUF file may name (ggml.h's enum ggml_type): which egox reads, their
// block size (values) and block bytes. Float types are blocks of one.

export type GgmlTypeName =
  | 'F32' | 'F16' | 'BF16'
  | 'Q8_0' | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q4_K' | 'Q5_K' | 'Q6_K';

/** The types egox reads, by GGML type id. */
export const GGML_READ: ReadonlyMap<number, { name: GgmlTypeName; block: number; bytes: number }> = new Map([
  [0, { name: 'F32', block: 1, bytes: 4 }],
  [1, { name: 'F16', block: 1, bytes: 2 }],
  [30, { name: 'BF16', block: 1, bytes: 2 }],
  [8, { name: 'Q8_0', block: 32, bytes: 34 }],
  [2, { name: 'Q4_0', block: 32, bytes: 18 }],
  [3, { name: 'Q4_1', block: 32, bytes: 20 }],
  [6, { name: 'Q5_0', block: 32, bytes: 22 }],
  [7, { name: 'Q5_1', block: 32, bytes: 24 }],
  [12, { name: 'Q4_K', block: 256, bytes: 144 }],
  [13, { name: 'Q5_K', block: 256, bytes: 176 }],
  [14, { name: 'Q6_K', block: 256, bytes: 210 }],
] as const);

/** Types GGML defines that egox does not read (named in the error). */
export const GGML_OTHER: ReadonlyMap<number, string> = new Map([
  [9, 'Q8_1'], [10, 'Q2_K'], [11, 'Q3_K'], [15, 'Q8_K'], [16, 'IQ2_XXS'], [17, 'IQ2_XS'], [18, 'IQ3_XXS'],
  [19, 'IQ1_S'], [20, 'IQ4_NL'], [21, 'IQ3_S'], [22, 'IQ2_S'], [23, 'IQ4_XS'], [24, 'I8'], [25, 'I16'],
  [26, 'I32'], [27, 'I64'], [28, 'F64'], [29, 'IQ1_M'], [34, 'TQ1_0'], [35, 'TQ2_0'], [39, 'MXFP4'], [40, 'NVFP4'],
]);

export const READ_TYPE_NAMES = [...GGML_READ.values()].map((t) => t.name).join(', ');
