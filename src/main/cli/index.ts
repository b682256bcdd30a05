// The `iwsft` command line. Each command lives in commands/: it parses its arguments, calls the
// services (the app's contract, src/shared/contract.ts) and prints. Exit codes: 0 done, 1 failed,
// 2 the command line or the config was wrong.
import { ConfigError } from '../../shared/config.ts'
import { ApiError } from '../../shared/contract.ts'
import { UsageError } from './args.ts'

type Command = (argv: string[]) => Promise<number>
/** A command's module, loaded when it is used: what runs it and its full usage (`--help`). */
type Loaded = { run: Command; usage: string }

const commands: Record<string, { help: string; load: () => Promise<Loaded> }> = {
  run: { help: 'run CONFIG            train one run from a JSON/YAML config', load: async () => import('./commands/run.ts').then((m) => ({ run: m.cmdRun, usage: m.RUN_USAGE })) },
  resume: {
    help: 'resume RUN [--force]  continue an interrupted or cancelled run from its last checkpoint (--force: a run stuck as running)',
    load: async () => import('./commands/run.ts').then((m) => ({ run: m.cmdResume, usage: m.RESUME_USAGE }))
  },
  eval: {
    help: 'eval RUN              reload a checkpoint and evaluate it (--step N --episodes N)',
    load: async () => import('./commands/eval.ts').then((m) => ({ run: m.cmdEval, usage: m.USAGE }))
  },
  runs: {
    help: "runs [--json]         list the project's runs; runs rename RUN NAME, runs delete RUN",
    load: async () => import('./commands/history.ts').then((m) => ({ run: m.cmdRuns, usage: m.RUNS_USAGE }))
  },
  metrics: {
    help: "metrics RUN           a run's logged metrics (CSV or --json)",
    load: async () => import('./commands/history.ts').then((m) => ({ run: m.cmdMetrics, usage: m.METRICS_USAGE }))
  },
  weights: {
    help: 'weights RUN           per-trace weights at a saved step (--step N --format csv|json)',
    load: async () => import('./commands/history.ts').then((m) => ({ run: m.cmdWeights, usage: m.WEIGHTS_USAGE }))
  },
  sweep: {
    help: 'sweep CONFIG --grid KEY=V1,V2 [--grid …] [--seeds N]  a grid of settings × seeds as one group; final metric and ESS/N per point (--metric KEY --json)',
    load: async () => import('./commands/sweep.ts').then((m) => ({ run: m.cmdSweep, usage: m.USAGE }))
  },
  launch: {
    help: 'launch CONFIG --engine accelerate [--num-processes N] | --emit DIR  run on the Python trainer (TRL + accelerate) here, or write a job folder for a cluster',
    load: async () => import('./commands/launch.ts').then((m) => ({ run: m.cmdLaunch, usage: m.USAGE }))
  },
  follow: {
    help: "follow DIR            record and follow a job folder's stream (a cluster's job synced back) until it ends",
    load: async () => import('./commands/follow.ts').then((m) => ({ run: m.cmdFollow, usage: m.USAGE }))
  },
  python: {
    help: "python install|status the Python trainer's environment (a venv in the cache: torch, transformers, trl, accelerate, peft)",
    load: async () => import('./commands/python.ts').then((m) => ({ run: m.cmdPython, usage: m.USAGE }))
  },
  reproduce: {
    help: "reproduce SUITE       the paper's experiments (bandit …) --seeds N [--json]",
    load: async () => import('./commands/reproduce.ts').then((m) => ({ run: m.cmdReproduce, usage: m.USAGE }))
  },
  byo: {
    help: 'byo import|weights|follow  bring your own log-probs: inspect weights with any settings, no training',
    load: async () => import('./commands/byo.ts').then((m) => ({ run: m.cmdByo, usage: m.USAGE }))
  },
  export: {
    help: 'export RUN            a checkpoint as tfjs or safetensors (--step N --format tfjs|safetensors --out DIR [--overwrite])',
    load: async () => import('./commands/export.ts').then((m) => ({ run: m.cmdExport, usage: m.USAGE }))
  },
  report: {
    help: 'report RUN [RUN…]     HTML/Markdown/PDF report (--out FILE.html|.md|.pdf [--csv DIR] [--overwrite])',
    load: async () => import('./commands/report.ts').then((m) => ({ run: m.cmdReport, usage: m.USAGE }))
  },
  bench: {
    help: 'bench [--json]        ms per training step, per backend (--peer: beside PyTorch; --profile [ENTRY]: ops a step)',
    load: async () => import('./commands/bench.ts').then((m) => ({ run: m.cmdBench, usage: m.USAGE }))
  },
  doctor: {
    help: 'doctor [--json]       which backends load, and why the others do not',
    load: async () => import('./commands/doctor.ts').then((m) => ({ run: m.cmdDoctor, usage: m.USAGE }))
  },
  backend: {
    help: 'backend install       build the native TensorFlow backend from the TF wheel',
    load: async () => import('./commands/backend.ts').then((m) => ({ run: m.cmdBackend, usage: m.USAGE }))
  },
  datasets: { help: "datasets make control make the control suite's datasets", load: async () => import('./commands/datasets.ts').then((m) => ({ run: m.cmdDatasets, usage: m.USAGE })) },
  models: {
    help: 'models fetch|add|list|show|remove|generate|score|score-dataset|weigh  real language models (GGUF, Hugging Face folders)',
    load: async () => import('./commands/models.ts').then((m) => ({ run: m.cmdModels, usage: m.USAGE }))
  },
  sample: {
    help: 'sample MODEL --prompts FILE  K completions a prompt, verified, as a dataset (--k --temperature --verify)',
    load: async () => import('./commands/sample.ts').then((m) => ({ run: m.cmdSample, usage: m.USAGE }))
  },
  serve: { help: 'serve                 the browser build on 127.0.0.1 with a token', load: async () => import('./commands/serve.ts').then((m) => ({ run: m.cmdServe, usage: m.USAGE })) },
  project: {
    help: 'project recover FILE --out NEW  copy what can be read of a damaged project into a new one',
    load: async () => import('./commands/project.ts').then((m) => ({ run: m.cmdProject, usage: m.USAGE }))
  }
}

/** the command names, for the tests that go through every one */
export const COMMAND_NAMES = Object.keys(commands)

const HELP_FLAGS = new Set(['--help', '-h'])

function usage(): string {
  return ['usage: iwsft COMMAND [options]   (every command takes --project FILE; default ./project.iwsft)', '', ...Object.values(commands).map((c) => `  ${c.help}`)].join('\n')
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  // `iwsft help COMMAND` is `iwsft COMMAND --help`
  if (name === 'help' && rest[0] && commands[rest[0]]) return main([rest[0], '--help'])
  if (!name || name === 'help' || HELP_FLAGS.has(name)) {
    process.stdout.write(usage() + '\n')
    return name ? 0 : 2
  }
  const cmd = commands[name]
  if (!cmd) {
    process.stderr.write(`iwsft: unknown command "${name}"\n\n${usage()}\n`)
    return 2
  }
  try {
    const loaded = await cmd.load()
    // --help anywhere (`iwsft serve --help`, `iwsft models fetch --help`): the command's usage,
    // every subcommand's included, before anything is opened or run
    if (rest.some((a) => HELP_FLAGS.has(a))) {
      process.stdout.write(`${loaded.usage}\n`)
      return 0
    }
    return await loaded.run(rest)
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError || (e instanceof ApiError && e.code === 'invalid_config')) {
      process.stderr.write(`iwsft ${name}: ${e.message}\n`)
      return 2
    }
    const err = e as Error
    process.stderr.write(`iwsft ${name}: ${err?.message ?? String(e)}\n`)
    if (process.env.IWSFT_DEBUG) process.stderr.write(`${err?.stack}\n`)
    return 1
  }
}
