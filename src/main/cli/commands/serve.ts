// `iwsft serve [--port N] [--project FILE] [--no-open] [--rebuild]`: the browser build. Serves
// the built renderer and the contract over HTTP + WebSocket on 127.0.0.1 with a random token,
// and prints the URL that carries it. Builds the renderer first when it is missing or older
// than its sources.
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startServer } from '../../services/http-server.ts'
import { fileRecentList } from '../../services/recent.ts'
import { intFlag, parseArgs, strFlag, UsageError } from '../args.ts'
import { projectPath } from '../project.ts'

const ROOT = resolve(fileURLToPath(new URL('../../../../', import.meta.url)))
export const RENDERER_OUT = join(ROOT, 'out', 'renderer')

function newestMtime(dir: string): number {
  let t = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs)
  }
  return t
}

/** Is out/renderer missing or older than src/renderer and src/shared? */
export function rendererStale(): boolean {
  const index = join(RENDERER_OUT, 'index.html')
  if (!existsSync(index)) return true
  const built = statSync(index).mtimeMs
  return [join(ROOT, 'src', 'renderer'), join(ROOT, 'src', 'shared')].some((d) => existsSync(d) && newestMtime(d) > built)
}

/** Build only the renderer (vite with the renderer section of electron.vite.config.ts), so the
 *  browser build does not depend on the main-process bundle building. */
export async function buildRenderer(log: (s: string) => void = (s) => process.stderr.write(s)): Promise<void> {
  log('iwsft serve: building the renderer (out/renderer) …\n')
  const { build } = await import('vite')
  const react = (await import('@vitejs/plugin-react')).default
  await build({
    root: join(ROOT, 'src', 'renderer'),
    base: './',
    logLevel: 'warn',
    plugins: [react()],
    resolve: { alias: { '@shared': join(ROOT, 'src', 'shared') } },
    build: { outDir: RENDERER_OUT, emptyOutDir: true, chunkSizeWarningLimit: 8000 }
  })
}

function openBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'cmd' : 'xdg-open'
  const args = process.platform === 'win32' ? ['/c', 'start', '', url] : [url]
  try {
    const p = spawn(cmd, args, { stdio: 'ignore', detached: true })
    p.on('error', () => {})
    p.unref()
  } catch {
    // no browser here: the printed URL is enough
  }
}

export async function cmdServe(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['no-open', 'rebuild'])
  for (const k of args.flags.keys()) {
    if (!['port', 'project', 'no-open', 'rebuild'].includes(k)) throw new UsageError(`unknown option --${k}; usage: iwsft serve [--port N] [--project FILE] [--no-open] [--rebuild]`)
  }
  if (args.flags.has('host')) throw new UsageError('the server binds to 127.0.0.1 only')
  const port = intFlag(args, 'port', 0, 0)
  if (port > 65535) throw new UsageError(`--port must be ≤ 65535, got ${port}`)
  strFlag(args, 'project')
  const projectFile = projectPath(args)
  if (args.flags.has('rebuild') || rendererStale()) await buildRenderer()

  const server = await startServer({ projectFile, port, rendererDir: RENDERER_OUT, recent: fileRecentList() })
  process.stdout.write(`IW-SFT Workbench (browser build)\n  project: ${projectFile}\n  open:    ${server.url}\n  (bound to 127.0.0.1; requests without the token are refused; Ctrl+C stops the server and cancels running jobs)\n`)
  if (!args.flags.has('no-open')) openBrowser(server.url)

  await new Promise<void>((res) => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      res()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  process.stdout.write('iwsft serve: stopping (cancelling running jobs) …\n')
  await server.close()
  return 0
}
