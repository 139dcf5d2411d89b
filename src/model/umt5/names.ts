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
