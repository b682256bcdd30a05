// `iwsft doctor [--json]`: which tfjs backends load here, which one `auto` picks, and why the
// others do not — plus what is installed in the native cache, the GPU, the build tools
// `iwsft backend install` needs, and the Python trainer's environment (`iwsft python install`).
// An engine tool: it loads the backends in this process to say why one does not load (the app's
// backend.status asks a worker the shorter question of which ones do), so it does not go through
// the services.
import { parseArgs, UsageError } from '../args.ts'
import { backendVersions, detectGpu, initBackend, nativeInstallStatus, probeBackends } from '../../engine/backend/index.ts'
import { checkBuildTools } from '../../engine/backend/install.ts'
import { cacheRoot } from '../../engine/backend/paths.ts'
import { printPythonStatus, withScratchServices } from './python.ts'

export const USAGE = 'usage: iwsft doctor [--json]'

export async function cmdDoctor(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json'])
  for (const k of args.flags.keys()) if (k !== 'json' && k !== 'project') throw new UsageError(`unknown option --${k} (${USAGE})`)
  const gpu = detectGpu()
  const native = (['cpu', 'gpu'] as const).map((v) => {
    const s = nativeInstallStatus(v)
    return { variant: v, installed: s.installed, dir: s.dir, detail: s.detail }
  })
  const backends = await probeBackends()
  const chosen = backends.find((b) => b.available)?.name ?? null
  if (chosen) await initBackend(chosen)
  const tools = checkBuildTools()
  const versions = backendVersions()
  // the Python trainer's venv (issue 18: runs on TRL + accelerate)
  const python = await withScratchServices((s) => s.call('python.status', {}))
  const report = { active: chosen, backends, gpu, native, cache: cacheRoot(), build_tools: tools, versions, python }
  if (args.flags.has('json')) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n')
    return 0
  }
  const out: string[] = []
  out.push(`backend with --backend auto: ${chosen ?? 'none'}`)
  out.push('')
  for (const b of backends) out.push(`  ${b.available ? 'ok ' : 'no '} ${b.name.padEnd(11)} ${b.detail}`)
  out.push('')
  out.push(`GPU: ${gpu.detail}`)
  out.push(`native cache: ${cacheRoot()}/native`)
  for (const n of native) out.push(`  native-${n.variant}: ${n.installed ? 'installed' : 'not installed'} — ${n.detail}`)
  const missing = tools.filter((t) => !t.ok)
  out.push(`build tools for \`iwsft backend install\`: ${missing.length ? `missing ${missing.map((t) => `${t.name} (${t.fix})`).join('; ')}` : 'all present'}`)
  out.push(
    `versions: ${Object.entries(versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`
  )
  out.push(...printPythonStatus(python))
  process.stdout.write(out.join('\n') + '\n')
  return 0
}
