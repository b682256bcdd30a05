// The desktop shell's back end: `iwsft serve` in a child process run by Node (never by Electron:
// better-sqlite3 and tfjs-node are built for Node's ABI and must not load in an Electron
// process). This file imports no `electron`: the shell hands it a printer.
//
// The child is started with --shell --print-json: it prints one JSON line with its address and
// token on stdout (the shell reads it; nothing else can), and listens on its IPC channel, which
// only the shell holds, for grants of picked paths and for `stop`; it asks the shell to print
// reports to PDF over the same channel. It stops by itself when that channel closes (the shell
// quit or crashed).
import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { createInterface } from 'node:readline'
import type { BackendToShell, ShellToBackend } from '../cli/commands/serve.ts'

export interface BackendInfo {
  /** http://127.0.0.1:PORT: the window loads this, and only pages of this origin get the token */
  origin: string
  port: number
  token: string
  project: string
  pid: number
}

export interface BackendOptions {
  /** the Node to run it with (findNode) */
  node: string
  /** the app's folder (bin/iwsft.mjs is there) */
  root: string
  /** the project to open (default: the back end's own default) */
  project?: string
  /** print report HTML to PDF (the shell: Electron's printToPDF) */
  print(html: string): Promise<Uint8Array>
  /** the back end ended without being asked to stop; `lines` are its last log lines */
  onExit(e: { code: number | null; signal: string | null; lines: string[] }): void
  /** extra environment for the child */
  env?: Record<string, string>
  /** how long to wait for the address line (ms; the first start may build the renderer) */
  startTimeoutMs?: number
  /** a line of the child's output (the shell echoes it to its own terminal) */
  onLog?(line: string): void
}

export interface Backend {
  readonly info: BackendInfo
  /** let the back end's requests name a path the user picked (a folder, or one file) */
  grant(path: string, kind: 'dir' | 'file'): Promise<void>
  /** stop it: running jobs are cancelled (and marked so), the project is closed; killed after `timeoutMs` */
  stop(timeoutMs?: number): Promise<void>
  lastLines(): string[]
  running(): boolean
}

/** The back end could not start: what happened, and its last log lines. */
export class BackendStartError extends Error {
  constructor(
    message: string,
    readonly lines: string[]
  ) {
    super(message)
    this.name = 'BackendStartError'
  }
}

export const NODE_MISSING =
  'The desktop app runs its back end with Node.js (20 or newer, the one that ran `npm install`), and found none: npm did not say which Node runs it (npm_node_execpath) and there is no `node` on the PATH. Install Node.js 20 LTS from https://nodejs.org (or your package manager) and start the app again with `npm start`.'

const executable = (p: string): boolean => {
  try {
    accessSync(p, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The Node to run the back end with: the one that runs npm (`npm start` sets npm_node_execpath),
 *  else the first `node` on the PATH; null when there is none. */
export function findNode(env: NodeJS.ProcessEnv = process.env): string | null {
  const fromNpm = env.npm_node_execpath
  if (fromNpm && existsSync(fromNpm) && executable(fromNpm)) return fromNpm
  const names = process.platform === 'win32' ? ['node.exe', 'node.cmd'] : ['node']
  for (const dir of (env.PATH ?? env.Path ?? '').split(delimiter)) {
    if (!dir) continue
    for (const n of names) {
      const p = join(dir, n)
      if (existsSync(p) && executable(p)) return p
    }
  }
  return null
}

const KEEP_LINES = 60

export function startBackend(opts: BackendOptions): Promise<Backend> {
  const args = [join(opts.root, 'bin', 'iwsft.mjs'), 'serve', '--shell', '--print-json', '--no-open', ...(opts.project ? ['--project', opts.project] : [])]
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env }
  delete env.ELECTRON_RUN_AS_NODE // a plain Node, whatever started us
  const child: ChildProcess = spawn(opts.node, args, { cwd: opts.root, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
  const lines: string[] = []
  const log = (line: string): void => {
    lines.push(line)
    if (lines.length > KEEP_LINES) lines.shift()
    opts.onLog?.(line)
  }
  let info: BackendInfo | null = null
  let stopping = false
  let exited = false
  let nextId = 1
  const grants = new Map<number, { resolve(): void; reject(e: Error): void }>()

  return new Promise<Backend>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new BackendStartError(`the back end did not report its address within ${Math.round((opts.startTimeoutMs ?? 180_000) / 1000)} s`, [...lines]))
    }, opts.startTimeoutMs ?? 180_000)

    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!info && line.startsWith('{')) {
        try {
          const m = JSON.parse(line) as { iwsft?: string; origin?: string; port?: number; token?: string; project?: string; pid?: number }
          if (m.iwsft === 'ready' && typeof m.origin === 'string' && typeof m.token === 'string' && typeof m.port === 'number') {
            info = { origin: m.origin, port: m.port, token: m.token, project: String(m.project), pid: m.pid ?? child.pid! }
            clearTimeout(timer)
            resolve(backend)
            return
          }
        } catch {
          // not the address line: a log line
        }
      }
      if (!line.startsWith('{"iwsft"')) log(line)
    })
    createInterface({ input: child.stderr! }).on('line', log)

    child.on('message', (m: BackendToShell) => {
      if (m?.type === 'granted') {
        const g = grants.get(m.id)
        grants.delete(m.id)
        if (m.error) g?.reject(new Error(m.error))
        else g?.resolve()
      } else if (m?.type === 'print' && typeof m.html === 'string') {
        const reply = (r: ShellToBackend): void => void (child.connected && child.send(r))
        opts.print(m.html).then(
          (pdf) => reply({ type: 'printed', id: m.id, pdf: Buffer.from(pdf).toString('base64') }),
          (e: unknown) => reply({ type: 'printed', id: m.id, error: e instanceof Error ? e.message : String(e) })
        )
      }
    })
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(new BackendStartError(`could not run ${opts.node}: ${e.message}`, [...lines]))
    })
    child.on('exit', (code, signal) => {
      exited = true
      clearTimeout(timer)
      for (const g of grants.values()) g.reject(new Error('the back end stopped'))
      grants.clear()
      // the command line's own error line says why (`iwsft serve: …`)
      const why = [...lines]
        .reverse()
        .find((l) => l.startsWith('iwsft serve: '))
        ?.slice('iwsft serve: '.length)
      if (!info) reject(new BackendStartError(why ?? `the back end stopped before it was ready (exit code ${code ?? signal})`, [...lines]))
      else if (!stopping) opts.onExit({ code, signal, lines: [...lines] })
    })

    const backend: Backend = {
      get info() {
        return info!
      },
      grant: (path, kind) =>
        new Promise<void>((res, rej) => {
          if (exited || !child.connected) return rej(new Error('the back end is not running'))
          const id = nextId++
          grants.set(id, { resolve: res, reject: rej })
          child.send({ type: 'grant', id, path, kind } satisfies ShellToBackend)
        }),
      stop: async (timeoutMs = 10_000) => {
        if (exited) return
        stopping = true
        const gone = new Promise<void>((r) => child.once('exit', () => r()))
        if (child.connected) child.send({ type: 'stop' } satisfies ShellToBackend)
        else child.kill('SIGTERM')
        let timer: ReturnType<typeof setTimeout> | undefined
        const killed = new Promise<void>((r) => {
          timer = setTimeout(() => {
            child.kill('SIGKILL')
            r()
          }, timeoutMs)
        })
        await Promise.race([gone, killed])
        clearTimeout(timer)
        await gone
      },
      lastLines: () => [...lines],
      running: () => !exited
    }
  })
}
