// `iwsft launch CONFIG --engine accelerate [--num-processes N] [--launcher torchrun|accelerate]
// [--accelerate-config FILE]`: the run on the Python trainer (TRL + accelerate, python/trainer)
// on this machine, recorded in the project (backend "accelerate") and followed with a progress
// bar; Ctrl+C cancels it (SIGTERM to the trainer's processes; the run ends cancelled).
// `iwsft launch CONFIG --emit DIR [--overwrite]`: a self-contained job folder for a cluster
// (nothing is recorded); `iwsft follow DIR` brings its run back. Both through the services
// (launch.start, launch.emit), as the app's "Run on" does.
import { ConfigError } from '../../../shared/config.ts'
import { LAUNCHERS, type Launcher } from '../../../shared/launch.ts'
import { intFlag, parseArgs, strFlag, UsageError } from '../args.ts'
import { ProgressBar } from '../progress.ts'
import { discardProject, projectPath, refuseOverwrite, withServices } from '../project.ts'
import { readConfigFile, runToEnd } from './run.ts'

export const USAGE = `usage: iwsft launch CONFIG --engine accelerate [--num-processes N] [--launcher torchrun|accelerate] [--accelerate-config FILE] [--project FILE] [--json]
       iwsft launch CONFIG --emit DIR [--overwrite] [--project FILE] [--json]

--engine accelerate  run on the Python trainer here (needs \`iwsft python install\`); the job folder goes
                     under <project folder>/jobs/<run id>-<name>/; N processes (default 1) share the batch
--launcher           torchrun (default: gloo DDP on CPUs, NCCL on GPUs) or accelerate launch (with
                     --accelerate-config FILE, default the job folder's accelerate/ddp.yaml)
--emit DIR           write a self-contained job folder for a cluster (data, config, model, trainer,
                     accelerate configs, slurm.sh); run it there, then \`iwsft follow DIR\`
--trainer-command CMD  run CMD DIR instead of the trainer under torchrun (a stand-in trainer for tests;
                     words split at spaces, or a JSON array)`

/** --trainer-command: a JSON array of words, or words separated by spaces */
function trainerCommand(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined
  if (v.trim().startsWith('[')) {
    let words: unknown
    try {
      words = JSON.parse(v)
    } catch {
      throw new UsageError('--trainer-command: not a valid JSON array of words')
    }
    if (!Array.isArray(words) || !words.length || !words.every((w) => typeof w === 'string' && w)) throw new UsageError('--trainer-command: expected a JSON array of words')
    return words as string[]
  }
  const words = v.split(/\s+/).filter(Boolean)
  if (!words.length) throw new UsageError('--trainer-command needs a command')
  return words
}

export async function cmdLaunch(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json', 'overwrite'])
  const known = new Set(['engine', 'num-processes', 'launcher', 'accelerate-config', 'emit', 'overwrite', 'trainer-command', 'project', 'json'])
  for (const k of args.flags.keys()) if (!known.has(k)) throw new UsageError(`unknown option --${k}\n${USAGE}`)
  const file = args.positionals[0]
  if (!file || args.positionals.length > 1) throw new UsageError(USAGE)
  const emit = strFlag(args, 'emit')
  const engine = strFlag(args, 'engine')
  if (emit !== undefined && engine !== undefined) throw new UsageError(`--emit writes a job folder and --engine runs it here: give one of them\n${USAGE}`)
  if (emit === undefined && engine !== 'accelerate') {
    throw new UsageError(
      engine === undefined ? `give --engine accelerate (run here) or --emit DIR (a cluster)\n${USAGE}` : `--engine ${engine}: only "accelerate" (the engine of this machine is \`iwsft run\`)`
    )
  }
  const json = args.flags.has('json')
  const config = readConfigFile(file)
  let refused: { error: ConfigError; created: boolean } | null = null
  const code = await withServices(
    args,
    async (s, created) => {
      const v = await s.call('config.validate', { config, source: file })
      if (!v.ok) {
        refused = { error: new ConfigError(v.message, file, v.issues), created }
        return 2
      }
      if (emit !== undefined) {
        for (const k of ['num-processes', 'launcher', 'accelerate-config', 'trainer-command'])
          if (args.flags.has(k)) throw new UsageError(`--${k} is for --engine accelerate; a job folder runs with the cluster's own settings (slurm.sh, accelerate/*.yaml)`)
        const e = await refuseOverwrite(s.call('launch.emit', { config, source: file, dir: emit, overwrite: args.flags.has('overwrite') }))
        if (json) process.stdout.write(JSON.stringify(e) + '\n')
        else {
          process.stdout.write(`job folder ${e.dir} (${e.files.length} files)\n`)
          if (!e.files.some((f) => f.startsWith('trainer/'))) process.stdout.write('note: this build has no python/trainer, so the folder carries no trainer\n')
          process.stdout.write(`on the cluster:\n${e.runCommands.map((c) => `  ${c}`).join('\n')}\nthen here, after syncing the folder back:\n  ${e.followCommand}\n`)
        }
        return 0
      }
      if (args.flags.has('overwrite')) throw new UsageError('--overwrite is for --emit')
      const launcher = strFlag(args, 'launcher') ?? 'torchrun'
      if (!(LAUNCHERS as readonly string[]).includes(launcher)) throw new UsageError(`--launcher ${launcher}: one of ${LAUNCHERS.join(', ')}`)
      const accelerateConfigFile = strFlag(args, 'accelerate-config')
      if (accelerateConfigFile && launcher !== 'accelerate') throw new UsageError('--accelerate-config is for --launcher accelerate')
      const numProcesses = intFlag(args, 'num-processes', 1, 1)
      const bar = new ProgressBar(v.config.name ?? v.config.method)
      return runToEnd(
        s,
        bar,
        json,
        async () => {
          const st = await s.call('launch.start', { config, source: file, numProcesses, launcher: launcher as Launcher, ...(accelerateConfigFile ? { accelerateConfigFile } : {}) })
          if (!json) process.stderr.write(`job folder ${st.dir}\n  ${st.command}\n`)
        },
        (e) => {
          if (!json) process.stderr.write(`run ${e.runId} on the Python trainer (${numProcesses} process${numProcesses > 1 ? 'es' : ''})\n`)
        }
      )
    },
    { trainerCommand: trainerCommand(strFlag(args, 'trainer-command')) }
  )
  if (refused) {
    const { error, created } = refused as { error: ConfigError; created: boolean }
    if (created) discardProject(projectPath(args))
    throw error
  }
  return code
}
