// Shared by the launch-*.test.ts files (issue 18): a project with the tiny Llama of the
// real-models fixtures as a model and a dataset of token rows tokenised as that model reads them
// (8 traces, scores 0, 1, 2, …, prompt and completion text kept as metadata), and a run config
// for the Python trainer on it.
import { readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createServices, type Services, type ServicesOptions } from '../../src/main/services/index.ts'

export const FIX = resolve(__dirname, '../fixtures/llm')
export const LLAMA = join(FIX, 'hf/llama')
export const FAKE_TRAINER = resolve(__dirname, '../fixtures/fake-trainer.mjs')

/** 8 rows from the fixture's token sequences: a prompt (mask 0) then a completion, score i % 3 */
export function tokenRows(): Array<{ id: string; prompt_tokens: number[]; tokens: number[]; score: number; prompt: string; completion: string }> {
  const seqs: number[][] = JSON.parse(readFileSync(join(LLAMA, 'logprobs.json'), 'utf8')).sequences
  return Array.from({ length: 8 }, (_, i) => {
    const s = seqs[i % seqs.length]
    const ids = s.length > 4 ? s.slice(0, Math.max(3, s.length - i)) : [...s, 5, 6]
    const cut = Math.max(1, Math.floor(ids.length / 2))
    return { id: `s${i}`, prompt_tokens: ids.slice(0, cut), tokens: ids.slice(cut), score: i % 3, prompt: `prompt ${i}`, completion: `completion ${i}` }
  })
}

/** A project at `file` with model "llama" and dataset "seqs"; returns the dataset's id. */
export async function makeLlmProject(dir: string, file = join(dir, 'p.iwsft')): Promise<{ file: string; datasetId: number }> {
  const s = await createServices({ projectFile: file, transport: 'cli' })
  try {
    await s.call('models.add', { path: LLAMA, name: 'llama' })
    writeFileSync(
      join(dir, 'seqs.jsonl'),
      tokenRows()
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n'
    )
    const res = await s.call('datasets.import', {
      path: join(dir, 'seqs.jsonl'),
      importId: 'seqs',
      tokenizerModel: 'llama',
      mapping: { promptTokens: 'prompt_tokens', tokens: 'tokens', score: 'score', id: 'id', meta: ['prompt', 'completion'] }
    })
    return { file, datasetId: res.dataset.id }
  } finally {
    await s.shutdown()
  }
}

/** iw-SFT on the tiny Llama: curated = score > 0.5 (5 of 8 traces), 6 steps of 4, logs every 2. */
export function llmConfig(datasetId: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'tiny llama iw-sft',
    domain: 'sequence',
    dataset: String(datasetId),
    method: 'iw-sft',
    backend: 'cpu',
    seed: 3,
    curation: { mode: 'threshold', threshold: 0.5 },
    policy: { kind: 'llm', model: 'llama', lora: { rank: 4, alpha: 8, dropout: 0, targets: ['q', 'v'] } },
    train: { steps: 6, batch_size: 4, loss_norm: 'token', log_every: 2, snapshot_every: 3, eval_every: 1000 },
    ...over
  }
}

export async function services(file: string, extra: Partial<ServicesOptions> = {}): Promise<Services> {
  return createServices({ projectFile: file, transport: 'cli', ...extra })
}
