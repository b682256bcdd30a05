// Handing a run to TRL + accelerate (issue 18): the contract's shapes for "Run on" — this
// machine (the engine), accelerate on this machine (the Python trainer in python/trainer, run by
// torchrun or accelerate launch), or a job folder exported for a cluster and followed from its
// synced stream. The back end is services/launch.ts; the job folder's files and the stream's
// rows are described in python/trainer/README.md.
import { z } from 'zod'

export const RUN_ON = ['local', 'accelerate', 'cluster'] as const
export type RunOn = (typeof RUN_ON)[number]
export const RUN_ON_LABELS: Record<RunOn, string> = {
  local: 'this machine',
  accelerate: 'accelerate on this machine',
  cluster: 'export for a cluster'
}

/** What starts the Python processes: torchrun (gloo DDP on CPUs, NCCL on GPUs; what accelerate
 *  runs on GPUs anyway) or `accelerate launch` with a config file (DDP, DeepSpeed ZeRO-3, FSDP).
 *  On this machine's CPU `accelerate launch` ran ONE process whatever --num_processes said
 *  (environment.md), so torchrun is the default. */
export const LAUNCHERS = ['torchrun', 'accelerate'] as const
export type Launcher = (typeof LAUNCHERS)[number]

const config = z.record(z.string(), z.unknown())
const source = z.string().min(1).max(4096).optional()
const path = z.string().trim().min(1).max(4096)
const numProcesses = z.number().int().min(1).max(64)

/** The commands for each "Run on" choice of a config (nothing is started or written). */
export const LaunchPlanInput = z.strictObject({
  config,
  source,
  numProcesses: numProcesses.optional(),
  launcher: z.enum(LAUNCHERS).optional(),
  /** the job folder's path for the cluster choice (default: `<project folder>/jobs/<run name>`) */
  dir: path.optional()
})

/** Start the run through the Python trainer on this machine; it is recorded at once (backend
 *  `accelerate`) and followed live like an engine run. */
export const LaunchStartInput = z.strictObject({
  config,
  source,
  numProcesses: numProcesses.default(1),
  launcher: z.enum(LAUNCHERS).default('torchrun'),
  /** an accelerate config file (launcher accelerate); default: the job folder's DDP config */
  accelerateConfigFile: path.optional()
})

/** Write a self-contained job folder (data, resolved config, trainer, requirements, accelerate
 *  configs, Slurm script) for another machine; nothing runs here. */
export const LaunchEmitInput = z.strictObject({
  config,
  source,
  dir: path,
  /** replace a folder that is already there (else: an 'exists' error) */
  overwrite: z.boolean().optional()
})

/** Follow a job folder's stream (a cluster's job synced back, or an emitted folder run by hand):
 *  the first follow records the run, later ones continue it. */
export const LaunchFollowInput = z.strictObject({ dir: path })

export const PythonInstallInput = z.strictObject({
  /** remove and make the environment again */
  force: z.boolean().optional()
})

/** The Python environment the trainer runs in (a venv in the cache, made by `iwsft python install`). */
export interface PythonStatus {
  ready: boolean
  /** the venv's folder */
  venv: string
  /** its interpreter, when the venv exists */
  python: string | null
  /** installed versions of the pinned packages (torch, transformers, trl, accelerate, peft, …) */
  versions: Record<string, string>
  /** why it is not ready, and what to do */
  problem: string | null
  /** the command that makes it */
  installCommand: string
}

export interface LaunchPlan {
  /** the config resolved against the project, as JSON (what `--emit` writes as config.json) */
  configJson: string
  local: { command: string }
  accelerate: { command: string; available: boolean; reason: string | null }
  cluster: {
    dir: string
    /** writes the job folder here */
    emitCommand: string
    /** run inside the job folder on the cluster (Slurm, or accelerate launch by hand) */
    runCommands: string[]
    /** back here, after syncing the folder: records and follows the run */
    followCommand: string
  }
  /** runs on the Python trainer fine-tune a language model of the project; null when this config can */
  unsupported: string | null
  python: PythonStatus
}

export interface LaunchStarted {
  runId: number
  /** the job folder the trainer writes to (its stream, checkpoints) */
  dir: string
  command: string
}

export interface LaunchEmitted {
  dir: string
  /** files written, relative to dir */
  files: string[]
  runCommands: string[]
  followCommand: string
}

export interface LaunchFollowed {
  runId: number
  /** a new run row (first follow) or one recorded before */
  created: boolean
  status: string
}

/** `python.install` progress, step by step (venv, pip install, check). */
export const PythonInstallProgressSchema = z.object({
  step: z.number(),
  total: z.number(),
  label: z.string(),
  message: z.string().optional(),
  status: z.enum(['running', 'completed', 'failed']),
  error: z.string().optional()
})
export type PythonInstallProgress = z.infer<typeof PythonInstallProgressSchema>
