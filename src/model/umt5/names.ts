// Hugging Face UMT5EncoderModel weight names, the names the graph uses. umT5 (unlike T5)
// gives every block its own relative_attention_bias table.

export const UMT5_NAMES = {
  /** Token embeddings [vocab, d_model]; read on the host, row by row. */
  embedding: 'shared.weight',
  /** Same tensor under the tied name (files may carry only this one). */
  embeddingTied: 'encoder.embed_tokens.weight',
  finalNorm: 'encoder.final_layer_norm.weight',
  block(i: number) {
    const p = `encoder.block.${i}.layer`;
    return {
      attnNorm: `${p}.0.layer_norm.weight`,
      q: `${p}.0.SelfAttention.q.weight`,
      k: `${p}.0.SelfAttention.k.weight`,
      v: `${p}.0.SelfAttention.v.weight`,
      o: `${p}.0.SelfAttention.o.weight`,
      relBias: `${p}.0.SelfAttention.relative_attention_bias.weight`,
      ffnNorm: `${p}.1.layer_norm.weight`,
      wi0: `${p}.1.DenseReluDense.wi_0.weight`,
      wi1: `${p}.1.DenseReluDense.wi_1.weight`,
      wo: `${p}.1.DenseReluDense.wo.weight`,
    };
  },
} as const;

/**
 * The original Wan2.1 release's names (models_t5_umt5-xxl-enc-bf16.pth, Wan's own T5Encoder):
 * rows [Hugging Face, original], `N` a block index. Wan's gate is HF's wi_0 (the GELU branch),
 * its fc1 is wi_1 (the linear branch).
 */
export const UMT5_ORIGINAL_TABLE: readonly (readonly [string, string])[] = [
  ['shared.weight', 'token_embedding.weight'],
  ['encoder.embed_tokens.weight', 'token_embedding.weight'],
  ['encoder.final_layer_norm.weight', 'norm.weight'],
  ['encoder.block.N.layer.0.layer_norm.weight', 'blocks.N.norm1.weight'],
  ['encoder.block.N.layer.0.SelfAttention.q.weight', 'blocks.N.attn.q.weight'],
  ['encoder.block.N.layer.0.SelfAttention.k.weight', 'blocks.N.attn.k.weight'],
  ['encoder.block.N.layer.0.SelfAttention.v.weight', 'blocks.N.attn.v.weight'],
  ['encoder.block.N.layer.0.SelfAttention.o.weight', 'blocks.N.attn.o.weight'],
  ['encoder.block.N.layer.0.SelfAttention.relative_attention_bias.weight', 'blocks.N.pos_embedding.embedding.weight'],
  ['encoder.block.N.layer.1.layer_norm.weight', 'blocks.N.norm2.weight'],
  ['encoder.block.N.layer.1.DenseReluDense.wi_0.weight', 'blocks.N.ffn.gate.0.weight'],
  ['encoder.block.N.layer.1.DenseReluDense.wi_1.weight', 'blocks.N.ffn.fc1.weight'],
  ['encoder.block.N.layer.1.DenseReluDense.wo.weight', 'blocks.N.ffn.fc2.weight'],
];

/**
 * llama.cpp's T5 encoder names, as the community GGUF text encoders hold them (city96's
 * umt5-xxl-encoder-*.gguf; gguf-py's tensor_mapping): rows [Hugging Face, GGUF]. llama.cpp's
 * ffn_gate is HF's wi_0 (the GELU branch), ffn_up is wi_1.
 */
export const UMT5_GGUF_TABLE: readonly (readonly [string, string])[] = [
  ['shared.weight', 'token_embd.weight'],
  ['encoder.embed_tokens.weight', 'token_embd.weight'],
  ['encoder.final_layer_norm.weight', 'enc.output_norm.weight'],
  ['encoder.block.N.layer.0.layer_norm.weight', 'enc.blk.N.attn_norm.weight'],
  ['encoder.block.N.layer.0.SelfAttention.q.weight', 'enc.blk.N.attn_q.weight'],
  ['encoder.block.N.layer.0.SelfAttention.k.weight', 'enc.blk.N.attn_k.weight'],
  ['encoder.block.N.layer.0.SelfAttention.v.weight', 'enc.blk.N.attn_v.weight'],
  ['encoder.block.N.layer.0.SelfAttention.o.weight', 'enc.blk.N.attn_o.weight'],
  ['encoder.block.N.layer.0.SelfAttention.relative_attention_bias.weight', 'enc.blk.N.attn_rel_b.weight'],
  ['encoder.block.N.layer.1.layer_norm.weight', 'enc.blk.N.ffn_norm.weight'],
  ['encoder.block.N.layer.1.DenseReluDense.wi_0.weight', 'enc.blk.N.ffn_gate.weight'],
  ['encoder.block.N.layer.1.DenseReluDense.wi_1.weight', 'enc.blk.N.ffn_up.weight'],
  ['encoder.block.N.layer.1.DenseReluDense.wo.weight', 'enc.blk.N.ffn_down.weight'],
];

export type Umt5Layout = 'huggingface' | 'original' | 'gguf';

/** Hugging Face name -> the table's name for it (the name itself when the table has no row). */
function renamer(table: readonly (readonly [string, string])[]): (hfName: string) => string {
  const rules = table.map(([hf, to]) => ({ re: new RegExp('^' + hf.replaceAll('.', '\\.').replace('N', '(\\d+)') + '$'), to }));
  return (hfName) => {
    for (const { re, to } of rules) {
      const m = re.exec(hfName);
      if (m) return m[1] === undefined ? to : to.replace('N', m[1]);
    }
    return hfName;
  };
}

/** The original key of a Hugging Face umT5 name (the name itself when the table has no row). */
export const umt5OriginalName = renamer(UMT5_ORIGINAL_TABLE);

/** The llama.cpp (GGUF) key of a Hugging Face umT5 name. */
export const umt5GgufName = renamer(UMT5_GGUF_TABLE);

/** Which naming a umT5 checkpoint uses (undefined: neither). */
export function detectUmt5Layout(names: Iterable<string>): Umt5Layout | undefined {
  for (const n of names) {
    if (n === 'token_embedding.weight' || /^blocks\.\d+\.attn\.q\.weight$/.test(n)) return 'original';
    if (n === 'token_embd.weight' || n.startsWith('enc.blk.')) return 'gguf';
    if (n === UMT5_NAMES.embedding || n.startsWith('encoder.block.')) return 'huggingface';
  }
  return undefined;
}

/** Graph (Hugging Face) name -> checkpoint key for a layout. */
export function umt5KeyFor(layout: Umt5Layout): (name: string) => string {
  return layout === 'original' ? umt5OriginalName : layout === 'gguf' ? umt5GgufName : (n) => n;
}
