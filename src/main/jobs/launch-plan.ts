// "Run on" (issue 18): which configs the Python trainer (TRL + accelerate, python/trainer) can
// run, and the command lines of each choice (JOB_SPEC "Commands"). Nothing is started or written.
import { basename, dirname, join } from 'node:path'
import type { RunConfig } from '../../shared/config.ts'
import type { Launcher, LaunchPlan, PythonStatus } from '../../shared/launch.ts'

/** Why the Python trainer cannot run this config, or null when it can. */
export function unsupportedReason(config: RunConfig): string | null {
  if (config.policy.kind !== 'llm')
    return `the Python trainer fine-tunes a language model of the project (policy.kind "llm"); this config's policy is "${config.policy.kind}": run it on this machine`
  if (config.train.step_sample !== null) return 'train.step_sample draws steps of Markov traces; the Python trainer trains on whole token sequences: set it to null'
  if (config.reference.kind === 'bc' || config.reference.kind === 'checkpoint')
    return `reference.kind "${config.reference.kind}": the Python trainer takes π_ref as the start model (reference "init") or a model's cached log-probs (reference "model"); run it on this machine`
  return null
}

/** A file-system-friendly form of a run name: lower case, [a-z0-9-], at most 60 characters. */
export function slugOf(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '')
  return s || 'run'
}

/** A word for a POSIX shell: as is when it is plain, else single-quoted. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
}
const cmd = (words: string[]): string => words.map(shellWord).join(' ')

export interface PlanInput {
  config: RunConfig
  /** the config file (CONFIG in the commands); default config.json */
  source?: string
  projectFile: string
  numProcesses: number
  launcher: Launcher
  /** the cluster's job folder */
  dir: string
  python: PythonStatus
}

/** The commands run inside a job folder on the cluster (JOB_SPEC "Commands"). */
export function clusterRunCommands(dir: string): string[] {
  return [`cd ${shellWord(dir)} && sbatch slurm.sh`, `cd ${shellWord(dir)} && accelerate launch --config_file accelerate/ddp.yaml trainer/train.py .`]
}

export const followCommand = (dir: string, projectFile: string): string => cmd(['npx', 'iwsft', 'follow', dir, '--project', projectFile])

export function launchPlan(p: PlanInput): LaunchPlan {
  const config = p.source ? p.source : 'config.json'
  const project = ['--project', p.projectFile]
  const unsupported = unsupportedReason(p.config)
  const B = p.config.train.batch_size
  const reason = unsupported
    ? unsupported
    : !p.python.ready
      ? (p.python.problem ?? `the Python environment is not ready; run \`${p.python.installCommand}\``)
      : B % p.numProcesses !== 0
        ? `train.batch_size ${B} is not divisible by ${p.numProcesses} processes (each takes an equal share of every batch); pick a divisor of ${B}`
        : null
  const launcherWords = p.launcher === 'torchrun' ? [] : ['--launcher', p.launcher]
  return {
    configJson: JSON.stringify(p.config, null, 2),
    local: { command: cmd(['npx', 'iwsft', 'run', config, ...project]) },
    accelerate: {
      command: cmd(['npx', 'iwsft', 'launch', config, '--engine', 'accelerate', '--num-processes', String(p.numProcesses), ...launcherWords, ...project]),
      available: reason === null,
      reason
    },
    cluster: {
      dir: p.dir,
      emitCommand: cmd(['npx', 'iwsft', 'launch', config, '--emit', p.dir, ...project]),
      runCommands: clusterRunCommands(p.dir),
      followCommand: followCommand(p.dir, p.projectFile)
    },
    unsupported,
    python: p.python
  }
}

/** Where a cluster job folder goes by default: `<project folder>/jobs/<run name>`. */
export function defaultJobDir(projectFile: string, name: string): string {
  return join(dirname(projectFile), 'jobs', slugOf(name || basename(projectFile)))
}
