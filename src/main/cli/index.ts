// The `iwsft` command line. Each command lives in commands/: it parses its arguments, calls the
// services (the app's contract, src/shared/contract.ts) and prints. Exit codes: 0 done, 1 failed,
// 2 the command line or the config was wrong.
import { ConfigError } from '../../shared/config.ts'
import { ApiError } from '../../shared/contract.ts'
import { UsageError } from './args.ts'

type Command = (argv: string[]) => Promise<number>

const commands: Record<string, { help: string; load: () => Promise<Command> }> = {
  run: { help: 'run CONFIG            train one run from a JSON/YAML config', load: async () => (await import('./commands/run.ts')).cmdRun },
  resume: { help: 'resume RUN [--force]  continue an interrupted or cancelled run from its last checkpoint (--force: a run stuck as running)', load: async () => (await import('./commands/run.ts')).cmdResume },
  eval: { help: 'eval RUN              reload a checkpoint and evaluate it (--step N --episodes N)', load: async () => (await import('./commands/eval.ts')).cmdEval },
  runs: { help: 'runs [--json]         list the project\'s runs', load: async () => (await import('./commands/history.ts')).cmdRuns },
  metrics: { help: 'metrics RUN           a run\'s logged metrics (CSV or --json)', load: async () => (await import('./commands/history.ts')).cmdMetrics },
  weights: { help: 'weights RUN           per-trace weights at a saved step (--step N --format csv|json)', load: async () => (await import('./commands/history.ts')).cmdWeights },
  sweep: { help: 'sweep CONFIG --grid KEY=V1,V2 [--grid …] [--seeds N]  a grid of settings × seeds as one group; final metric and ESS/N per point (--metric KEY --json)', load: async () => (await import('./commands/sweep.ts')).cmdSweep },
  reproduce: { help: 'reproduce SUITE       the paper\'s experiments (bandit …) --seeds N [--json]', load: async () => (await import('./commands/reproduce.ts')).cmdReproduce },
  byo: { help: 'byo import|weights|follow  bring your own log-probs: inspect weights with any settings, no training', load: async () => (await import('./commands/byo.ts')).cmdByo },
  export: { help: 'export RUN            a checkpoint as tfjs or safetensors (--step N --format tfjs|safetensors --out DIR [--overwrite])', load: async () => (await import('./commands/export.ts')).cmdExport },
  report: { help: 'report RUN [RUN…]     HTML/Markdown/PDF report (--out FILE.html|.md|.pdf [--csv DIR] [--overwrite])', load: async () => (await import('./commands/report.ts')).cmdReport },
  bench: { help: 'bench [--json]        ms per training step, per backend (--peer: beside PyTorch; --profile [ENTRY]: ops a step)', load: async () => (await import('./commands/bench.ts')).cmdBench },
  doctor: { help: 'doctor [--json]       which backends load, and why the others do not', load: async () => (await import('./commands/doctor.ts')).cmdDoctor },
  backend: { help: 'backend install       build the native TensorFlow backend from the TF wheel', load: async () => (await import('./commands/backend.ts')).cmdBackend },
  datasets: { help: 'datasets make control make the control suite\'s datasets', load: async () => (await import('./commands/datasets.ts')).cmdDatasets },
  models: { help: 'models fetch|add|list|show|remove|generate|score|score-dataset|weigh  real language models (GGUF, Hugging Face folders)', load: async () => (await import('./commands/models.ts')).cmdModels },
  sample: { help: 'sample MODEL --prompts FILE  K completions a prompt, verified, as a dataset (--k --temperature --verify)', load: async () => (await import('./commands/sample.ts')).cmdSample },
  serve: { help: 'serve                 the browser build on 127.0.0.1 with a token', load: async () => (await import('./commands/serve.ts')).cmdServe },
  project: { help: 'project recover FILE --out NEW  copy what can be read of a damaged project into a new one', load: async () => (await import('./commands/project.ts')).cmdProject }
}

function usage(): string {
  return [
    'usage: iwsft COMMAND [options]   (every command takes --project FILE; default ./project.iwsft)',
    '',
    ...Object.values(commands).map((c) => `  ${c.help}`)
  ].join('\n')
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage() + '\n')
    return name ? 0 : 2
  }
  const cmd = commands[name]
  if (!cmd) {
    process.stderr.write(`iwsft: unknown command "${name}"\n\n${usage()}\n`)
    return 2
  }
  try {
    return await (await cmd.load())(rest)
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
