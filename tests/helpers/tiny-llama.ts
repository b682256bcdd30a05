// The tiny random Llama of the real-model fixtures (tests/fixtures/llm/hf/llama, vocabulary 384)
// and what the language-model tests build on it: its token sequences, a small dataset of them, a
// shifted π_ref, and the model loaded on the CPU backend.
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fromTraces, type TraceDataset } from '../../src/main/common/trace.ts'
import { initBackend } from '../../src/main/engine/backend/index.ts'
import { loadLlm, type LoadedLlm } from '../../src/main/engine/llm/load.ts'
import { LlmPolicy } from '../../src/main/engine/llm/policy.ts'
import { scoreSteps } from '../../src/main/engine/train/scoring.ts'

/** tests/fixtures/llm: the real-model fixtures */
export const LLM_FIXTURES = resolve(__dirname, '../fixtures/llm')
export const LLAMA = join(LLM_FIXTURES, 'hf/llama')

/** The token sequences of the fixture's logprobs.json. */
export const llamaSequences = (): number[][] => JSON.parse(readFileSync(join(LLAMA, 'logprobs.json'), 'utf8')).sequences

/** The tiny Llama on the CPU backend (the caller disposes it). */
export async function loadTinyLlama(): Promise<LoadedLlm> {
  await initBackend('cpu')
  return loadLlm(LLAMA)
}

/** `traces` traces of different lengths from the fixture's sequences (the first 4 whole, trace i
 *  from 4 on cut to max(minLen, length − shorten − i) tokens), each a prompt (mask 0) then a
 *  completion, scores 0, 1, 2, 0, … */
export function tinyLlamaDataset({ traces: n, minLen, shorten } = { traces: 10, minLen: 3, shorten: 2 }): TraceDataset {
  const seqs = llamaSequences()
  const traces = Array.from({ length: n }, (_, i) => {
    const s = seqs[i % seqs.length]
    const ids = i < 4 ? s : s.slice(0, Math.max(minLen, s.length - shorten - i))
    const cut = Math.max(1, Math.floor(ids.length / 2))
    return { id: `t${i}`, actions: ids, mask: ids.map((_, t) => (t >= cut ? 1 : 0)), score: i % 3 }
  })
  return fromTraces('tiny', 'sequence', 0, 384, traces)
}

/** π_ref: the start model's log-probs shifted by −0.4, 0, +0.4 per trace, so that the weights
 *  differ from 1 from the first step on */
export function shiftedReference(m: LoadedLlm, ds: TraceDataset): Float32Array {
  const ref = scoreSteps(new LlmPolicy(m.model, { model: 'llama' }), ds)
  for (let i = 0; i < ds.offsets.length - 1; i++) for (let t = ds.offsets[i]; t < ds.offsets[i + 1]; t++) ref[t] += 0.4 * ((i % 3) - 1)
  return ref
}
