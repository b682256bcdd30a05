// The trainer logs tokens_per_s for a language-model policy (issue 14: Live runs shows it): the
// tokens of the rows trained on since the last log over the time they took, evaluation excluded.
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveConfig, type RunConfig } from '../../src/shared/config.ts'
import { fromTraces, type TraceDataset } from '../../src/main/common/trace.ts'
import { initBackend } from '../../src/main/engine/backend/index.ts'
import { loadLlm, type LoadedLlm } from '../../src/main/engine/llm/load.ts'
import { LlmPolicy } from '../../src/main/engine/llm/policy.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { train } from '../../src/main/engine/train/trainer.ts'

const FIX = resolve(__dirname, '../fixtures/llm')
const seqs: number[][] = JSON.parse(readFileSync(join(FIX, 'hf/llama/logprobs.json'), 'utf8')).sequences

let m: LoadedLlm
beforeAll(async () => {
  await initBackend('cpu')
  m = await loadLlm(join(FIX, 'hf/llama'))
})
afterAll(() => m?.dispose())

/** 4 traces, all of length L: every batch of B rows holds B·L tokens whichever rows are drawn */
const L = 12
function dataset(): TraceDataset {
  const traces = Array.from({ length: 4 }, (_, i) => {
    const ids = Array.from({ length: L }, (_, t) => seqs[i % seqs.length][t % seqs[i % seqs.length].length])
    return { id: `t${i}`, actions: ids, mask: ids.map((_, t) => (t >= L / 2 ? 1 : 0)), score: 1 }
  })
  return fromTraces('tiny', 'sequence', 0, 384, traces)
}

const config = (policy: Record<string, unknown>): RunConfig =>
  resolveConfig({
    domain: 'sequence',
    dataset: 'tiny',
    method: 'sft',
    backend: 'cpu',
    curation: { mode: 'all' },
    policy,
    train: { steps: 3, batch_size: 4, loss_norm: 'token', log_every: 1, snapshot_every: 1000, eval_every: 1000 }
  })

async function logs(cfg: RunConfig): Promise<Array<{ metrics: Record<string, number>; sinceLastMs: number }>> {
  const policy = new LlmPolicy(m.model, { model: 'llama', training: { mode: 'lora', rank: 2, alpha: 4, dropout: 0, targets: ['q'] }, seed: 1 })
  const out: Array<{ metrics: Record<string, number>; sinceLastMs: number }> = []
  let last = performance.now()
  try {
    await train(
      { config: cfg, dataset: dataset(), policy, multiplicity: new Uint8Array(4).fill(1), refLogProbs: null, rng: new Rng(5) },
      {
        onLog: (_step, metrics) => {
          const now = performance.now()
          out.push({ metrics, sinceLastMs: now - last })
          last = now
        }
      }
    )
  } finally {
    policy.dispose()
  }
  return out
}

describe('tokens_per_s', () => {
  it('is logged for a language-model policy: B·L tokens a step over at most the time between logs', async () => {
    const got = await logs(config({ kind: 'llm', model: 'llama' }))
    expect(got.length).toBe(3)
    got.forEach((g, i) => {
      // rate × the interval between logs measured here = the tokens counted; the trainer's window
      // lies inside that interval (at least 4·L), and after the first step it differs from it
      // only by logging's own time (not half a step: the count is 4·L, not 8·L)
      const counted = g.metrics.tokens_per_s * (g.sinceLastMs / 1000)
      expect(counted).toBeGreaterThanOrEqual(4 * L)
      if (i > 0) expect(counted).toBeLessThan(1.5 * 4 * L)
    })
  })

  it('is not logged when the config’s policy is not a language model', async () => {
    const got = await logs(config({ kind: 'transformer', d_model: 16, n_heads: 2, n_layers: 1, d_ff: 32, max_len: 64, tied: true, bos: 0 }))
    expect(got.length).toBe(3)
    for (const g of got) expect(g.metrics).not.toHaveProperty('tokens_per_s')
  })
})
