// `iwsft backend install [--gpu] [--wheel FILE] [--version V] [--force] [--keep-wheel] [--jobs N]`
// builds the native TensorFlow backend into the cache (see engine/backend/install.ts);
// `iwsft backend status [--json]` says what is installed where;
// `iwsft backend bench [--steps N] [--json]` times the control MLP step and large read-backs on every available backend.
// Engine tools: install takes the wheel, version and build options the app's backend.install
// does not offer and prints the build's own log; status reads the install manifests (paths,
// TensorFlow version, the verification numbers) without loading any backend; bench times
// backends in this process. None would gain anything from going through the services.
import { parseArgs, strFlag, intFlag, UsageError } from '../args.ts'
import { installNative, InstallError, INSTALL_STEPS, type InstallProgress } from '../../engine/backend/install.ts'
import { nativeInstallStatus } from '../../engine/backend/native.ts'
import { cacheRoot, DEFAULT_TF_VERSION } from '../../engine/backend/paths.ts'
import { detectGpu } from '../../engine/backend/gpu.ts'

export const USAGE = `usage: iwsft backend install [--gpu] [--wheel FILE] [--version V] [--force] [--keep-wheel] [--jobs N]
       iwsft backend status [--json]
       iwsft backend bench [--steps N] [--json]

install  builds the native TensorFlow backend from the TensorFlow wheel (default tensorflow-cpu==${DEFAULT_TF_VERSION};
         --gpu: tensorflow==${DEFAULT_TF_VERSION} with its CUDA wheels) into ${cacheRoot()}/native (IWSFT_CACHE_DIR moves it)`

function progressPrinter(): (p: InstallProgress) => void {
  const tty = process.stderr.isTTY
  let lastKey = ''
  let lastPct = -1
  return (p) => {
    const key = `${p.step}:${p.label}`
    if (p.fraction === undefined || key !== lastKey) {
      if (tty && lastPct >= 0) process.stderr.write('\n')
      if (key !== lastKey || p.message) process.stderr.write(`[${p.step}/${p.total}] ${p.label}…${p.message ? ` ${p.message}` : ''}\n`)
      lastKey = key
      lastPct = -1
    }
    if (p.fraction !== undefined) {
      const pct = Math.floor(p.fraction * 100)
      if (tty) {
        const w = 30
        const fill = Math.round(p.fraction * w)
        process.stderr.write(`\r      [${'#'.repeat(fill)}${' '.repeat(w - fill)}] ${pct}%`)
        lastPct = pct
        if (p.fraction >= 1) {
          process.stderr.write('\n')
          lastPct = -1
        }
      } else if (pct >= lastPct + 25 || (pct === 100 && lastPct !== 100)) {
        process.stderr.write(`      ${pct}%\n`)
        lastPct = pct
      }
    }
  }
}

async function install(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['gpu', 'force', 'keep-wheel', 'json'])
  const known = new Set(['gpu', 'wheel', 'version', 'force', 'keep-wheel', 'jobs', 'json'])
  for (const k of args.flags.keys()) if (!known.has(k)) throw new UsageError(`unknown option --${k}\n${USAGE}`)
  const gpu = args.flags.has('gpu')
  if (gpu && !detectGpu().present) {
    process.stderr.write(`note: ${detectGpu().detail}; the GPU build will be installed and checked on the CPU, and native-gpu stays unavailable until a GPU is present\n`)
  }
  try {
    const r = await installNative({
      gpu,
      wheel: strFlag(args, 'wheel'),
      version: strFlag(args, 'version'),
      force: args.flags.has('force'),
      keepWheel: args.flags.has('keep-wheel'),
      jobs: intFlag(args, 'jobs', 2, 1),
      onProgress: progressPrinter(),
      log: (l) => process.stderr.write(`      ${l}\n`)
    })
    const v = r.manifest.verify
    if (args.flags.has('json')) process.stdout.write(JSON.stringify({ ok: true, skipped: r.skipped, dir: r.dir, seconds: r.seconds, manifest: r.manifest }) + '\n')
    else if (r.skipped) process.stdout.write(`native-${r.manifest.variant} already installed and verified in ${r.dir} (TensorFlow ${v.tfVersion}); --force rebuilds it\n`)
    else {
      process.stdout.write(
        `native-${r.manifest.variant} installed in ${r.dir} in ${r.seconds.toFixed(0)} s: TensorFlow ${v.tfVersion}, ` +
          `test MLP loss ${v.lossFirst.toFixed(4)} → ${v.lossLast.toFixed(4)}, ${v.msPerStep.toFixed(2)} ms/step${v.usingGpu ? ' on GPU' : ''}\n`
      )
    }
    return 0
  } catch (e) {
    if (e instanceof InstallError) {
      process.stderr.write(`\niwsft backend install: ${e.message}\n`)
      if (args.flags.has('json')) process.stdout.write(JSON.stringify({ ok: false, step: e.step, of: INSTALL_STEPS, label: e.label, reason: e.reason, advice: e.advice }) + '\n')
      return 1
    }
    throw e
  }
}

function status(argv: string[]): number {
  const args = parseArgs(argv, ['json'])
  const rows = (['cpu', 'gpu'] as const).map((variant) => {
    const s = nativeInstallStatus(variant)
    return {
      variant,
      installed: s.installed,
      dir: s.dir,
      detail: s.detail,
      tfVersion: s.manifest?.tfVersion ?? null,
      builtAt: s.manifest?.builtAt ?? null,
      verify: s.manifest?.verify ?? null
    }
  })
  const gpu = detectGpu()
  if (args.flags.has('json')) {
    process.stdout.write(JSON.stringify({ cache: cacheRoot(), native: rows, gpu }) + '\n')
  } else {
    process.stdout.write(`cache: ${cacheRoot()}\n`)
    for (const r of rows) process.stdout.write(`native-${r.variant}: ${r.installed ? 'installed' : 'not installed'} — ${r.detail}${r.builtAt ? ` (built ${r.builtAt})` : ''}\n`)
    process.stdout.write(`gpu: ${gpu.detail}\n`)
  }
  return 0
}

async function bench(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json'])
  const steps = intFlag(args, 'steps', 20, 1)
  const { probeBackends, initBackend } = await import('../../engine/backend/index.ts')
  const { benchMlpStep } = await import('../../engine/backend/bench-mlp.ts')
  const { measureReadBack } = await import('../../engine/backend/readback.ts')
  const results: Array<Record<string, unknown>> = []
  for (const p of await probeBackends()) {
    if (!p.available) continue
    const ms = p.name === 'cpu' ? await benchMlpStep(p.name, Math.max(1, Math.min(steps, 5))) : await benchMlpStep(p.name, steps)
    await initBackend(p.name)
    const rb = await measureReadBack(1_000_000, 5)
    results.push({ backend: p.name, mlp_ms_per_step: ms, readback_1M: rb })
    if (!args.flags.has('json')) {
      process.stdout.write(
        `${p.name.padEnd(11)} MLP step ${ms.toFixed(2).padStart(8)} ms   read-back of 1M floats: dataSync ${rb.data_sync.toFixed(2)} ms, data() ${rb.data_async.toFixed(2)} ms, ` +
          `arraySync ${rb.array_sync.toFixed(1)} ms ([N,1]: ${rb.array_sync_column.toFixed(0)} ms), Array.from ${rb.array_from.toFixed(0)} ms, 10 slices ${rb.chunked_10.toFixed(2)} ms (randomNormal 1M: ${rb.create_random_normal.toFixed(1)} ms)\n`
      )
    }
  }
  if (args.flags.has('json')) process.stdout.write(JSON.stringify({ results }) + '\n')
  return 0
}

export async function cmdBackend(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv
  switch (sub) {
    case 'install':
      return install(rest)
    case 'status':
      return status(rest)
    case 'bench':
      return bench(rest)
    default:
      if (!sub || sub === 'help' || sub === '--help') {
        process.stdout.write(USAGE + '\n')
        return sub ? 0 : 2
      }
      throw new UsageError(`unknown subcommand "${sub}"\n${USAGE}`)
  }
}
