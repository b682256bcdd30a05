// A job folder for the Python trainer as JOB_SPEC (issue 18) describes it, written by the tests
// themselves (the product's writer, src/main/jobs/job-folder.ts, is built on another branch; the
// lead switches these tests to it when merging). Writes job.json, config.json, data.jsonl (the
// curated traces), batches.json (the engine trainer's batches for the config and seed),
// ref_logprobs.jsonl (when given), init_adapter/ (when given), trainer/ and requirements.txt.
import { cpSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { RunConfig } from '../../src/shared/config.ts'
import type { TraceDataset } from '../../src/main/common/trace.ts'
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
