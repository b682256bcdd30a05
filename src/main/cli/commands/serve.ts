// `iwsft serve [--port N] [--project FILE] [--allow-dir DIR]… [--max-upload-mb N] [--no-open]
// [--rebuild] [--print-json]`: the app's back end (http-server.ts). Serves the built renderer and
// the contract over HTTP + WebSocket on 127.0.0.1 with a random token, and prints the URL that
// carries it (after #, so no request does). --allow-dir lets the app's requests name files in
// that folder besides the project's folder and uploads; --print-json prints one JSON line with
// the address instead (what the desktop shell reads); --shell is how the desktop shell starts
// it (its IPC channel grants picked paths, prints PDFs, and stops it). Builds the renderer
// first when it is missing or older than its sources.
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEFAULT_MAX_UPLOAD_MB, startServer } from '../../services/http-server.ts'
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

export const USAGE = 'usage: iwsft serve [--port N] [--project FILE] [--allow-dir DIR]… [--max-upload-mb N] [--no-open] [--rebuild] [--print-json]'

/** Every value of a repeatable option (`--allow-dir A --allow-dir B`, `--allow-dir=A`). */
function repeated(argv: string[], name: string): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) {
      const v = argv[i + 1]
      if (v === undefined || v.startsWith('--')) throw new UsageError(`--${name} needs a folder`)
      out.push(v)
      i++
    } else if (argv[i].startsWith(`--${name}=`)) out.push(argv[i].slice(name.length + 3))
  }
  return out
}

/** What the desktop shell (src/main/electron/backend-process.ts) and this back end say to each
 *  other over the child process's IPC channel, which only the shell holds (never the page). */
export type ShellToBackend = { type: 'grant'; id: number; path: string; kind: 'dir' | 'file' } | { type: 'printed'; id: number; pdf?: string; error?: string } | { type: 'stop' }
export type BackendToShell = { type: 'granted'; id: number; error?: string } | { type: 'print'; id: number; html: string }

/** The report printer of a back end run by the shell: the shell prints with Electron's
 *  printToPDF (there is no other Chromium on a desktop machine). */
function shellPrinter(): (html: string) => Promise<Uint8Array> {
  let next = 1
  const waiting = new Map<number, { resolve(b: Uint8Array): void; reject(e: Error): void }>()
  process.on('message', (m: ShellToBackend) => {
    if (m?.type !== 'printed') return
    const w = waiting.get(m.id)
    waiting.delete(m.id)
    if (!w) return
    if (typeof m.pdf === 'string') w.resolve(new Uint8Array(Buffer.from(m.pdf, 'base64')))
    else w.reject(new Error(`the desktop app could not print the report: ${m.error ?? 'no answer'}`))
  })
  return (html) =>
    new Promise<Uint8Array>((resolve, reject) => {
      const id = next++
      waiting.set(id, { resolve, reject })
      process.send!({ type: 'print', id, html } satisfies BackendToShell)
    })
}

export async function cmdServe(argv: string[]): Promise<number> {
  try {
    return await serve(argv)
  } finally {
    // the shell's IPC channel would keep this process alive after an error
    if (process.connected && argv.includes('--shell')) process.disconnect()
  }
}

async function serve(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['no-open', 'rebuild', 'print-json', 'shell'])
  for (const k of args.flags.keys()) {
    if (!['port', 'project', 'no-open', 'rebuild', 'print-json', 'allow-dir', 'max-upload-mb', 'shell'].includes(k)) throw new UsageError(`unknown option --${k}; ${USAGE}`)
  }
  if (args.flags.has('host')) throw new UsageError('the server binds to 127.0.0.1 only')
  const port = intFlag(args, 'port', 0, 0)
  if (port > 65535) throw new UsageError(`--port must be ≤ 65535, got ${port}`)
  const maxUploadMb = intFlag(args, 'max-upload-mb', DEFAULT_MAX_UPLOAD_MB, 1)
  const allowDirs = repeated(argv, 'allow-dir').map((d) => resolve(d))
  for (const d of allowDirs) if (!existsSync(d) || !statSync(d).isDirectory()) throw new UsageError(`--allow-dir ${d}: no such folder`)
  // --shell: run for the desktop shell, which talks to this process over its IPC channel
  const shell = args.flags.has('shell')
  if (shell && !process.send) throw new UsageError('--shell is for the desktop app, which starts this back end with an IPC channel')
  const json = args.flags.has('print-json')
  strFlag(args, 'project')
  const projectFile = projectPath(args)
  if (args.flags.has('rebuild') || rendererStale()) await buildRenderer()

  const server = await startServer({
    projectFile,
    port,
    rendererDir: RENDERER_OUT,
    recent: fileRecentList(),
    allowDirs,
    maxUpload: maxUploadMb * 1024 * 1024,
    ...(shell ? { desktop: { printer: shellPrinter() } } : {})
  })
  if (json) {
    process.stderr.write(`iwsft serve: ${projectFile} on ${server.origin} (process ${process.pid}${shell ? ', for the desktop app' : ''})\n`)
    process.stdout.write(`${JSON.stringify({ iwsft: 'ready', url: server.url, origin: server.origin, port: server.port, token: server.token, project: projectFile, pid: process.pid })}\n`)
  } else {
    const allowed = allowDirs.length ? `\n  also may use: ${allowDirs.join(', ')}` : ''
    process.stdout.write(
      `IW-SFT Workbench (browser build)\n  project: ${projectFile}\n  open:    ${server.url}${allowed}\n  (bound to 127.0.0.1; only this page may use the server, with the token after #; Ctrl+C stops the server and cancels running jobs)\n`
    )
  }
  if (!args.flags.has('no-open') && !shell) openBrowser(server.url)

  await new Promise<void>((res) => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      process.off('disconnect', stop)
      res()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
    if (shell) {
      // the shell's orders; and if the shell goes away (closed or crashed), this back end stops too
      process.on('disconnect', stop)
      process.on('message', (m: ShellToBackend) => {
        if (m?.type === 'stop') stop()
        else if (m?.type === 'grant') {
          let error: string | undefined
          try {
            server.services.grantPath(m.path, m.kind)
          } catch (e) {
            error = e instanceof Error ? e.message : String(e)
          }
          process.send?.({ type: 'granted', id: m.id, ...(error ? { error } : {}) } satisfies BackendToShell)
        }
      })
    }
  })
  process.stdout.write(json ? `${JSON.stringify({ iwsft: 'stopping' })}\n` : 'iwsft serve: stopping (cancelling running jobs) …\n')
  await server.close()
  return 0
}
