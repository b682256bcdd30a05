// The job folder for the Python trainer (issue 18, JOB_SPEC "The job folder"): a resolved
// RunConfig whose policy is a language model of the project becomes a folder the trainer
// (python/trainer: TRL + accelerate) runs on this machine or anywhere else —
//   job.json, config.json, data.jsonl (the curated traces), batches.json (the engine trainer's
//   own batches: batchSchedule with trainerRng(seed, false), so an engine run and a TRL run of
//   one config and seed see the same traces in the same order), ref_logprobs.jsonl (when the
//   project caches the π_ref log-probs), model/ (copied for a cluster; a local launch names the
//   project's model path instead), init_adapter/ (LoRA: the engine's starting adapters for the
//   run seed as a PEFT folder, so both trainers start equal; the model is loaded here for it),
//   trainer/ + requirements.txt (copied from python/trainer),
//   accelerate/{ddp,deepspeed_zero3,fsdp}.yaml, slurm.sh, README.md.
// It is written into `DIR.partial` and renamed into place at the end: a folder that is there is
// complete. An existing DIR is an 'exists' error unless the caller says overwrite.
import { randomUUID } from 'node:crypto'
import { cpSync, createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { ConfigError, isImportanceWeighted, trainsOnAllData, type RunConfig } from '../../shared/config.ts'
import { datasetHash, numTraces, type TraceDataset } from '../common/trace.ts'
import { curateForRun } from '../engine/experiment.ts'
import { batchSchedule, trainerRng } from '../engine/train/batch-schedule.ts'
import { ExportExistsError } from '../export/atomic.ts'
import type { ProjectStore } from '../store/types.ts'
import { checkRunModel, loadRunModel, type LlmPolicyConfig } from './llm-policy.ts'
import { initBackend } from '../engine/backend/index.ts'
import { writeLlmExport } from '../export/hf-export.ts'
import { clusterRunCommands, shellWord, unsupportedReason } from './launch-plan.ts'
import { requireModel, resolveModelReference } from './model-reference.ts'
import { trainerRequirements, trainerSourceDir } from './python-env.ts'
import pkg from '../../../package.json'

export const JOB_FORMAT = 'iwsft-job/1'

/** job.json (JOB_SPEC). */
export interface JobManifest {
  format: typeof JOB_FORMAT
  job_id: string
  name: string
  created: string
  workbench: string
  seed: number
  total_steps: number
  dataset: { id: number; name: string; hash: string; traces: number; curated: number }
  model: { name: string; format: 'hf' | 'gguf'; path: string; gguf_file: string | null }
  finetune: 'lora' | 'full'
  prepend_bos: boolean
  bos: number
}

export interface JobFolderOptions {
  /** 'emit': self-contained (the model copied in); 'local': job.json names the project's model path */
  mode: 'emit' | 'local'
  overwrite?: boolean
  /** the processes the Slurm script and accelerate configs ask for (default 1) */
  numProcesses?: number
  /** the trainer's source folder (default python/trainer of this repository) */
  trainerDir?: string
  /** LoRA: write init_adapter/ (default true; it loads the model in this process) */
  initAdapter?: boolean
}

export interface JobFolder {
  dir: string
  manifest: JobManifest
  /** files written, relative to dir, sorted */
  files: string[]
  /** python/trainer was not there to copy (a build without the trainer) */
  trainerMissing: boolean
  /** why init_adapter/ was not written for a LoRA run (the trainer then initialises LoRA itself) */
  initAdapterSkipped: string | null
}

/** The language-model policy of a config the Python trainer can run, or a ConfigError saying why not. */
export function jobPolicy(config: RunConfig): LlmPolicyConfig {
  const why = unsupportedReason(config)
  if (why || config.policy.kind !== 'llm') throw new ConfigError(why ?? 'the Python trainer needs policy.kind "llm"', undefined, [{ path: 'policy', message: why ?? '' }])
  return config.policy
}

/** Write the job folder of `config` at `dir` (see the file's header). */
export async function writeJobFolder(store: ProjectStore, config: RunConfig, dir: string, opts: JobFolderOptions): Promise<JobFolder> {
  const policy = jobPolicy(config)
  const target = resolve(dir)
  if (existsSync(target) && !opts.overwrite) throw new ExportExistsError(target)
  const summary = store.findDataset(config.dataset)
  if (!summary) throw new ConfigError(`dataset "${config.dataset}" is not in the project ${store.file}`, undefined, [{ path: 'dataset', message: 'not in the project' }])
  checkRunModel(store, policy, summary.id) // the dataset must be tokenised as this model reads it
  const ds = store.getDataset(summary.id)
  const { multiplicity } = curateForRun(config, ds)
  const hash = datasetHash(ds)
  const model = requireModel(store, policy.model)
  const refLogProbs = referenceLogProbs(store, config, summary.id, hash)
  const curated = Array.from(multiplicity).filter((m) => m > 0).length
  const manifest: JobManifest = {
    format: JOB_FORMAT,
    job_id: randomUUID(),
    name: config.name ?? `${config.method} · ${summary.name} · seed ${config.seed}`,
    created: new Date().toISOString(),
    workbench: pkg.version,
    seed: config.seed,
    total_steps: config.train.steps,
    dataset: { id: summary.id, name: summary.name, hash, traces: numTraces(ds), curated },
    model: {
      name: model.name,
      format: model.format,
      path: opts.mode === 'emit' ? 'model' : model.path,
      gguf_file: model.format === 'gguf' ? basename(model.path) : null
    },
    finetune: policy.finetune,
    // the engine's LlmPolicy for a run (llm-policy.ts): no BOS fed before position 0
    prepend_bos: false,
    bos: model.details.tokenizer.bos
  }

  const partial = `${target}.partial`
  rmSync(partial, { recursive: true, force: true })
  mkdirSync(partial, { recursive: true })
  let trainerMissing: boolean
  let initAdapterSkipped: string | null = null
  try {
    const put = (name: string, text: string, mode?: number): void => {
      const f = join(partial, name)
      mkdirSync(dirname(f), { recursive: true })
      writeFileSync(f, text, mode ? { mode } : undefined)
    }
    put('job.json', JSON.stringify(manifest, null, 2) + '\n')
    put('config.json', JSON.stringify(config, null, 2) + '\n')
    await writeJobData(partial, config, ds, multiplicity, refLogProbs)
    if (opts.mode === 'emit') {
      if (model.format === 'gguf') {
        mkdirSync(join(partial, 'model'))
        cpSync(model.path, join(partial, 'model', basename(model.path)))
      } else cpSync(model.path, join(partial, 'model'), { recursive: true, dereference: true })
    }
    trainerMissing = !copyTrainer(partial, opts.trainerDir)
    if (policy.finetune === 'lora' && opts.initAdapter !== false) {
      try {
        await writeInitAdapter(store, config, policy, join(partial, 'init_adapter'), manifest)
      } catch (e) {
        initAdapterSkipped = (e as Error).message
        rmSync(join(partial, 'init_adapter'), { recursive: true, force: true })
      }
    }
    const n = opts.numProcesses ?? 1
    put('accelerate/ddp.yaml', accelerateConfig('MULTI_GPU', n))
    put('accelerate/deepspeed_zero3.yaml', accelerateConfig('DEEPSPEED', n))
    put('accelerate/fsdp.yaml', accelerateConfig('FSDP', n))
    put('slurm.sh', slurmScript(manifest, n), 0o755)
    put('README.md', jobReadme(manifest, config, target, n, Boolean(refLogProbs), initAdapterSkipped, trainerMissing))
    if (existsSync(target)) {
      // overwrite: the old folder goes only once the new one is complete
      const old = `${target}.old`
      rmSync(old, { recursive: true, force: true })
      renameSync(target, old)
      renameSync(partial, target)
      rmSync(old, { recursive: true, force: true })
    } else renameSync(partial, target)
  } catch (e) {
    rmSync(partial, { recursive: true, force: true })
    throw e
  }
  return { dir: target, manifest, files: listFiles(target), trainerMissing, initAdapterSkipped }
}

/** The data files of the job folder at `dir`: data.jsonl (the curated traces: multiplicity > 0),
 *  batches.json (the engine trainer's own batches for the config and seed: batchSchedule with
 *  trainerRng(seed, false)) and, with `refLogProbs` (the dataset's flat step layout),
 *  ref_logprobs.jsonl. Returns the batches (trace indices per step). */
export async function writeJobData(dir: string, config: RunConfig, ds: TraceDataset, multiplicity: Uint8Array, refLogProbs: Float32Array | null): Promise<Int32Array[]> {
  const { steps, batch_size: B } = config.train
  const batches = batchSchedule(config.method, multiplicity, trainerRng(config.seed, false), steps, B)
  await writeLines(join(dir, 'data.jsonl'), dataRows(ds, multiplicity))
  writeFileSync(join(dir, 'batches.json'), JSON.stringify({ steps, batch_size: B, batches: batches.map((b) => Array.from(b)) }) + '\n')
  if (refLogProbs) await writeLines(join(dir, 'ref_logprobs.jsonl'), refRows(ds, multiplicity, refLogProbs))
  return batches
}

/** trainer/ and requirements.txt of the job folder at `dir`, copied from `trainerDir` (default
 *  python/trainer of this repository); false when there is no trainer there to copy. */
export function copyTrainer(dir: string, trainerDir?: string): boolean {
  const trainer = trainerDir ?? trainerSourceDir()
  const req = trainerDir ? join(trainerDir, 'requirements.txt') : trainerRequirements()
  if (existsSync(req)) cpSync(req, join(dir, 'requirements.txt'))
  if (!existsSync(trainer)) return false
  // files, not links: the folder must stand alone on another machine
  cpSync(trainer, join(dir, 'trainer'), { recursive: true, dereference: true, filter: (src) => !/(__pycache__|\.pyc$|\.egg-info)/.test(src) })
  return true
}

/** LoRA: θ's starting adapters exactly as an engine run of this config makes them (loadRunModel:
 *  fresh adapters seeded by the run seed, B = 0), written as a PEFT folder. */
async function writeInitAdapter(store: ProjectStore, config: RunConfig, policy: LlmPolicyConfig, out: string, m: JobManifest): Promise<void> {
  await initBackend(config.backend)
  const run = await loadRunModel(store, policy, config.seed)
  try {
    const metadata = { generated_by: `IW-SFT Workbench ${pkg.version}`, job_id: m.job_id, seed: String(config.seed), what: 'initial LoRA adapters' }
    await writeLlmExport(run.policy, run.llm, 'peft', out, { metadata, baseModel: m.model.path })
  } finally {
    run.dispose()
  }
}

/** π_ref's cached log-probs over the dataset, when the method uses them and the project has
 *  them: the reference model's (reference "model"), else the start model's (π_ref = θ's start). */
function referenceLogProbs(store: ProjectStore, config: RunConfig, datasetId: number, hash: string): Float32Array | null {
  if (trainsOnAllData(config.method) || !isImportanceWeighted(config.method) || config.policy.kind !== 'llm') return null
  const refModel = config.reference.kind === 'model' ? config.reference.model : config.policy.model
  const { refKey, model } = resolveModelReference(store, refModel, datasetId)
  const logp = store.getRefLogProbs(refKey, hash)
  if (!logp && config.reference.kind === 'model' && store.findModel(config.policy.model)?.id !== model.id) {
    throw new ConfigError(
      `reference model "${refModel}" is not the start model and its log-probs over this dataset are not cached; score them first (\`iwsft models score-dataset ${refModel} ${datasetId}\`)`,
      undefined,
      [{ path: 'reference.model', message: 'log-probs not cached' }]
    )
  }
  return logp
}

function* dataRows(ds: TraceDataset, multiplicity: Uint8Array): Generator<string> {
  for (let i = 0; i < multiplicity.length; i++) {
    if (multiplicity[i] === 0) continue
    const a = ds.offsets[i]
    const b = ds.offsets[i + 1]
    const meta = ds.meta?.[i]
    const text = (k: string): Record<string, string> => (typeof meta?.[k] === 'string' ? { [k]: meta[k] as string } : {})
    yield JSON.stringify({
      index: i,
      id: ds.ids[i],
      input_ids: Array.from(ds.actions.subarray(a, b)),
      mask: Array.from(ds.mask.subarray(a, b)),
      score: ds.scores[i],
      multiplicity: multiplicity[i],
      ...text('prompt'),
      ...text('completion')
    })
  }
}

function* refRows(ds: TraceDataset, multiplicity: Uint8Array, logp: Float32Array): Generator<string> {
  for (let i = 0; i < multiplicity.length; i++) {
    if (multiplicity[i] > 0) yield JSON.stringify({ index: i, logprobs: Array.from(logp.subarray(ds.offsets[i], ds.offsets[i + 1])) })
  }
}

/** One line a row, streamed (a dataset of many long traces does not become one string). */
function writeLines(file: string, lines: Iterable<string>): Promise<void> {
  return new Promise((res, rej) => {
    const out = createWriteStream(file)
    out.on('error', rej)
    const it = lines[Symbol.iterator]()
    const pump = (): void => {
      for (let r = it.next(); !r.done; r = it.next()) if (!out.write(r.value + '\n')) return void out.once('drain', pump)
      out.end(() => res())
    }
    pump()
  })
}

function listFiles(root: string, sub = ''): string[] {
  const out: string[] = []
  for (const name of readdirSync(join(root, sub))) {
    const rel = sub ? `${sub}/${name}` : name
    if (statSync(join(root, rel)).isDirectory()) out.push(...listFiles(root, rel))
    else out.push(rel)
  }
  return out.sort()
}

/** accelerate's config files: DDP (MULTI_GPU), DeepSpeed ZeRO-3, FSDP; one machine, n processes. */
export function accelerateConfig(kind: 'MULTI_GPU' | 'DEEPSPEED' | 'FSDP', n: number): string {
  const common = ['compute_environment: LOCAL_MACHINE', 'debug: false', 'machine_rank: 0', 'main_training_function: main', 'num_machines: 1', `num_processes: ${n}`]
  const tail = ['rdzv_backend: static', 'same_network: true', 'use_cpu: false']
  if (kind === 'MULTI_GPU')
    return (
      [
        '# DDP, one process a GPU (accelerate launch --config_file accelerate/ddp.yaml trainer/train.py .)',
        'distributed_type: MULTI_GPU',
        ...common,
        'mixed_precision: bf16',
        'gpu_ids: all',
        ...tail
      ].join('\n') + '\n'
    )
  if (kind === 'DEEPSPEED')
    return (
      [
        '# DeepSpeed ZeRO-3 (parameters, gradients and optimizer state sharded across the GPUs; pip install deepspeed)',
        'distributed_type: DEEPSPEED',
        'deepspeed_config:',
        '  zero_stage: 3',
        '  offload_optimizer_device: none',
        '  offload_param_device: none',
        '  zero3_init_flag: true',
        '  zero3_save_16bit_model: true',
        ...common,
        'mixed_precision: bf16',
        ...tail
      ].join('\n') + '\n'
    )
  return (
    [
      '# FSDP (fully sharded data parallel)',
      'distributed_type: FSDP',
      'fsdp_config:',
      '  fsdp_version: 2',
      '  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP',
      '  fsdp_cpu_ram_efficient_loading: true',
      '  fsdp_offload_params: false',
      '  fsdp_reshard_after_forward: true',
      '  fsdp_state_dict_type: FULL_STATE_DICT',
      ...common,
      'mixed_precision: bf16',
      ...tail
    ].join('\n') + '\n'
  )
}

function slurmScript(m: JobManifest, n: number): string {
  return `#!/bin/bash
# ${m.name} (job ${m.job_id}): one node, ${n} GPU(s), accelerate launch with DDP.
# Submit from this folder: sbatch slurm.sh. For DeepSpeed ZeRO-3 or FSDP set ACCELERATE_CONFIG.
#SBATCH --job-name=iwsft-${m.job_id.slice(0, 8)}
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=${n}
#SBATCH --cpus-per-task=${Math.max(4, 4 * n)}
#SBATCH --output=slurm-%j.out
set -euo pipefail
cd "\${SLURM_SUBMIT_DIR:-$(dirname "$0")}"
# the Python environment: python -m venv .venv && .venv/bin/pip install --require-hashes --no-deps -r requirements.txt
if [ -x .venv/bin/accelerate ]; then PATH="$PWD/.venv/bin:$PATH"; fi
ACCELERATE_CONFIG="\${ACCELERATE_CONFIG:-accelerate/ddp.yaml}"
# one process a GPU: sbatch --gpus-per-node=8 slurm.sh runs 8
NPROC="\${SLURM_GPUS_ON_NODE:-${n}}"
accelerate launch --config_file "$ACCELERATE_CONFIG" --num_processes "$NPROC" trainer/train.py .
`
}

function jobReadme(m: JobManifest, config: RunConfig, dir: string, n: number, hasRef: boolean, initSkipped: string | null, trainerMissing: boolean): string {
  const run = clusterRunCommands('.')
  return `# ${m.name}

A job for the IW-SFT Workbench's Python trainer (TRL + accelerate): ${config.method} on dataset
"${m.dataset.name}" (${m.dataset.curated} curated of ${m.dataset.traces} traces), model "${m.model.name}"
(${m.finetune} fine-tuning), ${m.total_steps} steps of ${config.train.batch_size}, seed ${m.seed}.
Made by the workbench ${m.workbench} on ${m.created}; job id ${m.job_id}.

## Files
- job.json: the manifest; config.json: the resolved run config (the workbench's schema)
- data.jsonl: the curated traces (index, id, input_ids, mask, score, multiplicity)
- batches.json: the global batch of every step, as the workbench's own trainer draws them
${hasRef ? '- ref_logprobs.jsonl: π_ref log-probs cached by the workbench\n' : ''}${m.finetune === 'lora' ? (initSkipped ? `- no init_adapter/ (${initSkipped}): the trainer initialises LoRA itself\n` : '- init_adapter/: the LoRA adapters an engine run of this config and seed starts from (PEFT)\n') : ''}- model${m.model.path === 'model' ? '/' : `: ${m.model.path} (not copied: a job for this machine)`}
${trainerMissing ? '- no trainer/: the workbench that wrote this folder has no python/trainer; copy it (and its requirements.txt) here' : '- trainer/, requirements.txt: the trainer and its pinned, hash-checked packages'}
- accelerate/ddp.yaml, deepspeed_zero3.yaml, fsdp.yaml; slurm.sh (one node, ${n} GPU(s))

## Run it
\`\`\`
python3 -m venv .venv && .venv/bin/pip install --require-hashes --no-deps -r requirements.txt
${run.map((c) => c.replace(/^cd \. && /, '')).join('\n# or\n')}
\`\`\`
The batch size (${config.train.batch_size}) must be divisible by the number of processes.
The trainer writes stream.jsonl (metrics, weights, checkpoints, the end), checkpoints/step-N/ and,
at the end, final-model/ (a Hugging Face folder).

## Follow it from the workbench
Sync this folder back (stream.jsonl, checkpoints/, final-model/), then:
\`\`\`
npx iwsft follow ${shellWord(dir)} --project PROJECT
\`\`\`
The first follow records the run; following again continues the same run.
`
}
