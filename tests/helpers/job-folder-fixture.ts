// A job folder for the Python trainer as JOB_SPEC (issue 18) describes it, written by the tests
// themselves (the product's writer, src/main/jobs/job-folder.ts, is built on another branch; the
// lead switches these tests to it when merging). Writes job.json, config.json, data.jsonl (the
// curated traces), batches.json (the engine trainer's batches for the config and seed),
// ref_logprobs.jsonl (when given), init_adapter/ (when given), trainer/ and requirements.txt.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { RunConfig } from '../../src/shared/config.ts'
import { fromTraces, type TraceDataset } from '../../src/main/common/trace.ts'
import type { LoadedLlm } from '../../src/main/engine/llm/load.ts'
import { LlmPolicy } from '../../src/main/engine/llm/policy.ts'
import { scoreSteps } from '../../src/main/engine/train/scoring.ts'
import { batchSchedule, trainerRng } from '../../src/main/engine/train/batch-schedule.ts'
import { TRAINER_SOURCE } from './python-trainer.ts'

export interface JobFolderInput {
  dir: string
  config: RunConfig
  dataset: TraceDataset
  /** m(τ) per trace of the dataset (curation); 0 = not curated */
  multiplicity: Uint8Array
  /** the start model (absolute path, referenced, not copied): an HF folder, or the folder of `ggufFile` */
  modelPath: string
  ggufFile?: string
  /** π_ref log-probs in the dataset's flat step layout (written as ref_logprobs.jsonl) */
  refLogProbs?: Float32Array
  /** a PEFT adapter folder to copy to init_adapter/ */
  initAdapter?: string
}

/** Write the folder; returns the global batches written (trace indices per step). */
export function writeJobFolder(j: JobFolderInput): number[][] {
  const { dir, config, dataset: ds, multiplicity } = j
  if (config.policy.kind !== 'llm') throw new Error('a job folder fine-tunes a language model')
  mkdirSync(dir, { recursive: true })
  const { steps, batch_size: B } = config.train
  const batches = batchSchedule(config.method, multiplicity, trainerRng(config.seed, false), steps, B).map((b) => Array.from(b))
  const rows = (i: number): { ids: number[]; mask: number[] } => ({
    ids: Array.from(ds.actions.slice(ds.offsets[i], ds.offsets[i + 1])),
    mask: Array.from(ds.mask.slice(ds.offsets[i], ds.offsets[i + 1]))
  })
  const curated = Array.from(multiplicity.keys()).filter((i) => multiplicity[i] > 0)
  const manifest = {
    format: 'iwsft-job/1',
    job_id: `test-${Date.now()}`,
    name: config.name ?? 'test run',
    created: new Date().toISOString(),
    workbench: 'test',
    seed: config.seed,
    total_steps: steps,
    dataset: { id: 0, name: ds.name, hash: 'test', traces: multiplicity.length, curated: curated.length },
    model: { name: config.policy.model, format: j.ggufFile ? 'gguf' : 'hf', path: j.modelPath, gguf_file: j.ggufFile ?? null },
    finetune: config.policy.finetune,
    prepend_bos: false,
    bos: 1
  }
  writeFileSync(join(dir, 'job.json'), JSON.stringify(manifest, null, 1))
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 1))
  writeFileSync(
    join(dir, 'data.jsonl'),
    curated.map((i) => JSON.stringify({ index: i, id: ds.ids[i], input_ids: rows(i).ids, mask: rows(i).mask, score: ds.scores[i], multiplicity: multiplicity[i] }) + '\n').join('')
  )
  writeFileSync(join(dir, 'batches.json'), JSON.stringify({ steps, batch_size: B, batches }))
  if (j.refLogProbs) {
    const ref = j.refLogProbs
    writeFileSync(join(dir, 'ref_logprobs.jsonl'), curated.map((i) => JSON.stringify({ index: i, logprobs: Array.from(ref.slice(ds.offsets[i], ds.offsets[i + 1])) }) + '\n').join(''))
  }
  if (j.initAdapter) cpSync(j.initAdapter, join(dir, 'init_adapter'), { recursive: true })
  cpSync(TRAINER_SOURCE, join(dir, 'trainer'), { recursive: true, filter: (src) => !src.includes('__pycache__') })
  cpSync(join(TRAINER_SOURCE, 'requirements.txt'), join(dir, 'requirements.txt'))
  return batches
}

export interface StreamRow {
  type: 'start' | 'metrics' | 'weights' | 'checkpoint' | 'end'
  [k: string]: unknown
}

/** stream.jsonl's rows */
export const readStream = (text: string): StreamRow[] =>
  text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as StreamRow)

/** loss per logged step, from the stream's metrics rows */
export function lossesOf(rows: StreamRow[]): Map<number, Record<string, number>> {
  const out = new Map<number, Record<string, number>>()
  for (const r of rows) if (r.type === 'metrics') out.set(r.step as number, r.metrics as Record<string, number>)
  return out
}

/** The tiny random Llama of the real-model fixtures (vocabulary 384). */
export const LLAMA = resolve(__dirname, '../fixtures/llm/hf/llama')

/** 10 traces of different lengths from the fixture's sequences, a prompt (mask 0) then a
 *  completion, scores 0, 1, 2, 0, … */
export function tinyLlamaDataset(): TraceDataset {
  const seqs: number[][] = JSON.parse(readFileSync(join(LLAMA, 'logprobs.json'), 'utf8')).sequences
  const traces = Array.from({ length: 10 }, (_, i) => {
    const s = seqs[i % seqs.length]
    const ids = i < 4 ? s : s.slice(0, Math.max(3, s.length - 2 - i))
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
