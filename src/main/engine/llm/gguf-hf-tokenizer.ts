// A GGUF file's byte-level BPE vocabulary written as a Hugging Face tokenizer.json object with
// SmolLM2's own pre-tokenizer (Digits + ByteLevel), so @huggingface/tokenizers can run the same
// vocabulary and merges as the engine's tokenizer: the reference of the SmolLM2 tokenizer test and
// the library side of the tokenizer benchmark.
import type { GgufHeader } from './gguf.ts'

export function smollmTokenizerJson(h: GgufHeader): Record<string, unknown> {
  const tokens = h.metadata.get('tokenizer.ggml.tokens') as string[]
  const types = h.metadata.get('tokenizer.ggml.token_type') as number[]
  return {
    model: { type: 'BPE', vocab: Object.fromEntries(tokens.map((t, i) => [t, i])), merges: h.metadata.get('tokenizer.ggml.merges'), byte_fallback: false, ignore_merges: false },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Digits', individual_digits: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }
      ]
    },
    decoder: { type: 'ByteLevel' },
    normalizer: null,
    post_processor: null,
    // control tokens (type 3) are special: matched whole, never split
    added_tokens: tokens.map((t, id) => ({ id, content: t, special: true, single_word: false, lstrip: false, rstrip: false, normalized: false })).filter((_, id) => types[id] === 3)
  }
}
