// The PyTorch peer of `iwsft bench --peer` (issue 17): finds a Python with torch and drives
// python/bench/peer.py over stdin/stdout, one JSON object a line, so that the benchmark can run
// PyTorch's rounds interleaved with the engine's in the same invocation (same load on both).
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { createInterface, type Interface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { cacheRoot } from './paths.ts'

/** python/bench/peer.py of this checkout */
export const PEER_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../python/bench/peer.py')

export interface PythonTried {
  python: string
  /** torch version when it imports; otherwise why not */
  torch: string | null
  reason?: string
}

/** The Pythons to try, in order: IWSFT_PYTHON alone if set; else the workbench's own venvs
 *  (${IWSFT_CACHE_DIR:-~/.cache/iwsft}/python, …/python-parity) where they exist, then python3. */
export function pythonCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.IWSFT_PYTHON && env.IWSFT_PYTHON.trim()) return [env.IWSFT_PYTHON.trim()]
  const venvs = ['python', 'python-parity'].map((d) => join(cacheRoot(), d, 'bin', 'python')).filter((p) => existsSync(p))
  return [...venvs, 'python3']
}

/** The first candidate that imports torch, and every one tried (with why it did not do). */
export function findTorchPython(candidates = pythonCandidates()): { python: string | null; tried: PythonTried[] } {
  const tried: PythonTried[] = []
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch, sys; sys.stdout.write(torch.__version__)'], { encoding: 'utf8', timeout: 120_000 })
    if (r.error) {
      tried.push({ python, torch: null, reason: (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : r.error.message })
      continue
    }
    if (r.status === 0) {
      tried.push({ python, torch: r.stdout.trim() })
      return { python, tried }
    }
    const last = (r.stderr || '').trim().split('\n').pop() ?? ''
    tried.push({ python, torch: null, reason: last || `exit code ${r.status}` })
  }
  return { python: null, tried }
}

/** A running peer.py: request → one answer, in order. */
export class TorchPeer {
  private readonly lines: Interface
  private readonly waiting: Array<{ ok: (v: Record<string, unknown>) => void; fail: (e: Error) => void }> = []
  private stderr = ''
  private exited: string | null = null

  private constructor(
    readonly python: string,
    private readonly child: ChildProcessWithoutNullStreams
  ) {
    this.lines = createInterface({ input: child.stdout })
    this.lines.on('line', (line) => {
      const w = this.waiting.shift()
      if (!w) return
      try {
        const msg = JSON.parse(line) as Record<string, unknown>
        if (typeof msg.error === 'string') w.fail(new Error(`PyTorch peer (${PEER_SCRIPT}): ${msg.error}`))
        else w.ok(msg)
      } catch {
        w.fail(new Error(`PyTorch peer wrote a line that is not JSON: ${line.slice(0, 200)}`))
      }
    })
    child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000)
    })
    child.on('exit', (code, signal) => {
      this.exited = `exited (${signal ?? `code ${code}`})${this.stderr ? `: ${this.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`
      for (const w of this.waiting.splice(0)) w.fail(new Error(`PyTorch peer ${this.exited}`))
    })
  }

  static start(python: string): TorchPeer {
    if (!existsSync(PEER_SCRIPT)) throw new Error(`the PyTorch peer script is missing: ${PEER_SCRIPT}`)
    const child = spawn(python, ['-u', PEER_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] })
    return new TorchPeer(python, child)
  }

  request<T extends Record<string, unknown>>(msg: Record<string, unknown>): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`PyTorch peer ${this.exited}`))
    return new Promise<T>((ok, fail) => {
      this.waiting.push({ ok: ok as (v: Record<string, unknown>) => void, fail })
      this.child.stdin.write(JSON.stringify(msg) + '\n')
    })
  }

  async close(): Promise<void> {
    if (this.exited) return
    try {
      await this.request({ cmd: 'quit' })
    } catch {
      /* already gone */
    }
    this.lines.close()
    if (!this.exited) this.child.kill()
  }
}

/** base64 of a typed array's bytes (the peer reads them with numpy.frombuffer) */
export function b64(a: Float32Array | Int32Array | Uint8Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64')
}
