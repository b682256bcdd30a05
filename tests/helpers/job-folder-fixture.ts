// A job folder for the Python trainer (JOB_SPEC) written from what a test holds in memory: its
// dataset, curation, π_ref log-probs and a start adapter of its own (the parity tests draw B ≠ 0,
// where the product's init_adapter/ is the engine's fresh one). The product's writer
// (src/main/jobs/job-folder.ts) reads all of these from a project; its data files and trainer copy
// are used here as they are (writeJobData, copyTrainer), and job.json has its type.
import { cpSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { RunConfig } from '../../src/shared/config.ts'
import type { TraceDataset } from '../../src/main/common/trace.ts'
import { copyTrainer, JOB_FORMAT, writeJobData, type JobManifest } from '../../src/main/jobs/job-folder.ts'

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

/** Write the folder (job.json, config.json, the data files, init_adapter/ when given, trainer/ and
 *  requirements.txt); returns the global batches written (trace indices per step). */
export async function writeJobFolder(j: JobFolderInput): Promise<number[][]> {
  const { dir, config, dataset: ds, multiplicity } = j
  if (config.policy.kind !== 'llm') throw new Error('a job folder fine-tunes a language model')
  mkdirSync(dir, { recursive: true })
  const manifest: JobManifest = {
    format: JOB_FORMAT,
    job_id: `test-${Date.now()}`,
    name: config.name ?? 'test run',
    created: new Date().toISOString(),
    workbench: 'test',
    seed: config.seed,
    total_steps: config.train.steps,
    dataset: { id: 0, name: ds.name, hash: 'test', traces: multiplicity.length, curated: multiplicity.filter((m) => m > 0).length },
    model: { name: config.policy.model, format: j.ggufFile ? 'gguf' : 'hf', path: j.modelPath, gguf_file: j.ggufFile ?? null },
    finetune: config.policy.finetune,
    prepend_bos: false,
    bos: 1
  }
  writeFileSync(join(dir, 'job.json'), JSON.stringify(manifest, null, 1))
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 1))
  const batches = await writeJobData(dir, config, ds, multiplicity, j.refLogProbs ?? null)
  if (j.initAdapter) cpSync(j.initAdapter, join(dir, 'init_adapter'), { recursive: true })
  if (!copyTrainer(dir)) throw new Error('no python/trainer to copy into the job folder')
  return batches.map((b) => Array.from(b))
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
