// Python wheels without Python: find one on a PyPI-style index (PEP 691 JSON, or the HTML
// simple page), download it with its sha256 checked, and extract chosen members.
//
// A wheel is a zip, read with yauzl: it reads the central directory (ZIP64 included), opens
// single members by offset (the C library and ~500 headers out of a 274 MB wheel without
// reading the rest), checks each member's size against the directory and rejects unsafe
// names. Measured on tensorflow_cpu-2.21.0-cp311 doing what `iwsft backend install` does
// (list 15,632 members, read METADATA, extract 495 headers and the two libraries), 3 runs
// each on a busy 2-core machine: the hand-written reader this replaced 4.1 s / 133 MB peak
// RSS, yauzl 5.3 s / 155 MB, fflate's streaming Unzip 9.7 s / 379 MB (it streams through the
// whole archive; its unzipSync wants it all in memory). The ~1 s yauzl costs is small beside
// the node-gyp build that follows, and buys a maintained reader.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import yauzl, { type Entry, type ZipFile } from 'yauzl'

export interface ZipEntry {
  name: string
  /** 0 stored, 8 deflated */
  method: number
  compSize: number
  size: number
  /** Unix permission bits */
  mode: number
  /** yauzl's record of the member, to open it again */
  readonly entry: Entry
}

async function openZip(file: string): Promise<ZipFile> {
  try {
    return await yauzl.openPromise(file, { lazyEntries: true, autoClose: false })
  } catch (e) {
    throw new Error(`${file} is not a zip file, or is truncated (${(e as Error).message})`, { cause: e })
  }
}

async function withZip<T>(file: string, use: (zip: ZipFile) => Promise<T>): Promise<T> {
  const zip = await openZip(file)
  try {
    return await use(zip)
  } catch (e) {
    const msg = (e as Error).message
    throw new Error(msg.startsWith(file) ? msg : `${file}: ${msg}`, { cause: e })
  } finally {
    zip.close()
  }
}

export async function listZip(file: string): Promise<ZipEntry[]> {
  return withZip(file, async (zip) => {
    const out: ZipEntry[] = []
    for await (const e of zip.eachEntry()) {
      out.push({ name: e.fileName, method: e.compressionMethod, compSize: e.compressedSize, size: e.uncompressedSize, mode: (e.externalFileAttributes >>> 16) & 0o777, entry: e })
    }
    return out
  })
}

async function entryStream(zip: ZipFile, e: ZipEntry): Promise<Readable> {
  try {
    return await zip.openReadStreamPromise(e.entry)
  } catch (err) {
    throw new Error(`${e.name}: ${(err as Error).message}`, { cause: err })
  }
}

export async function readZipText(file: string, entry: ZipEntry): Promise<string> {
  return withZip(file, async (zip) => {
    const chunks: Buffer[] = []
    for await (const c of await entryStream(zip, entry)) chunks.push(c as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  })
}

/** Extract each entry to `dest(entry)` (null = skip); yauzl checks every size. Returns files written. */
export async function extractZip(file: string, entries: ZipEntry[], dest: (e: ZipEntry) => string | null, onFile?: (done: number, total: number) => void): Promise<number> {
  const todo = entries.filter((e) => !e.name.endsWith('/') && dest(e) !== null)
  return withZip(file, async (zip) => {
    let n = 0
    for (const e of todo) {
      const to = dest(e) as string
      mkdirSync(dirname(to), { recursive: true })
      try {
        await pipeline(await entryStream(zip, e), createWriteStream(to, { mode: e.mode & 0o100 ? 0o755 : 0o644 }))
      } catch (err) {
        rmSync(to, { force: true })
        const msg = (err as Error).message
        throw new Error(msg.startsWith(e.name) ? msg : `${e.name}: ${msg}`, { cause: err })
      }
      n++
      onFile?.(n, todo.length)
    }
    return n
  })
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const c of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(c as Buffer)
  return h.digest('hex')
}

// ---------------------------------------------------------------------------------------------
// Finding and downloading a wheel

export interface WheelFile {
  filename: string
  url: string
  sha256: string | null
  size: number | null
}

function indexUrl(): string {
  return (process.env.IWSFT_PYPI_INDEX || process.env.PIP_INDEX_URL || 'https://pypi.org/simple').replace(/\/+$/, '')
}

const normalize = (p: string): string => p.toLowerCase().replace(/[-_.]+/g, '-')

const linuxX86 = (filename: string): boolean => /manylinux[^-]*x86_64\.whl$/.test(filename)

/** Wheels of `project==version` on the index that `accept` takes (default: Linux x86_64), best
 *  first (cp311, then newest CPython); pure-Python models pass e.g. `(f) => f.endsWith('-py3-none-any.whl')`. */
export async function findWheels(project: string, version: string, accept: (filename: string) => boolean = linuxX86): Promise<WheelFile[]> {
  const url = `${indexUrl()}/${normalize(project)}/`
  const res = await fetch(url, { headers: { Accept: 'application/vnd.pypi.simple.v1+json, text/html;q=0.1' } })
  if (!res.ok) throw new Error(`${url} answered ${res.status} ${res.statusText}`)
  const type = res.headers.get('content-type') ?? ''
  const body = await res.text()
  let files: WheelFile[] = []
  if (type.includes('json')) {
    const j = JSON.parse(body) as { files: Array<{ filename: string; url: string; hashes?: { sha256?: string }; size?: number; yanked?: unknown }> }
    files = j.files.filter((f) => !f.yanked).map((f) => ({ filename: f.filename, url: new URL(f.url, url).href, sha256: f.hashes?.sha256 ?? null, size: f.size ?? null }))
  } else {
    for (const m of body.matchAll(/<a\s[^>]*href="([^"]+)"[^>]*>([^<]+)<\/a>/g)) {
      const href = m[1].replace(/&amp;/g, '&')
      files.push({ filename: m[2].trim(), url: new URL(href, url).href.replace(/#.*$/, ''), sha256: /#sha256=([0-9a-f]{64})/.exec(href)?.[1] ?? null, size: null })
    }
  }
  const stem = `${project.replace(/-/g, '_')}-${version}-`
  const wanted = files.filter((f) => f.filename.toLowerCase().startsWith(stem.toLowerCase()) && accept(f.filename))
  const py = (f: WheelFile): number => Number(/-cp3(\d+)-/.exec(f.filename)?.[1] ?? 0)
  return wanted.sort((a, b) => (py(a) === 11 ? -1 : py(b) === 11 ? 1 : py(b) - py(a)))
}

/** Download `w` into `dir`, checking its sha256 against `expect` (and the index's own). Returns the file. */
export async function downloadWheel(w: WheelFile, dir: string, expect: string | null, onProgress?: (fraction: number, bytes: number) => void): Promise<string> {
  mkdirSync(dir, { recursive: true })
  const final = join(dir, w.filename)
  const want = expect ?? w.sha256
  if (existsSync(final) && want && (await sha256File(final)) === want) return final
  const part = `${final}.part-${process.pid}`
  const res = await fetch(w.url)
  if (!res.ok || !res.body) throw new Error(`${w.url} answered ${res.status} ${res.statusText}`)
  const total = Number(res.headers.get('content-length')) || w.size || 0
  const h = createHash('sha256')
  let bytes = 0
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h.update(chunk)
      bytes += chunk.length
      onProgress?.(total ? bytes / total : 0, bytes)
      cb(null, chunk)
    }
  })
  try {
    await pipeline(Readable.fromWeb(res.body as Parameters<typeof Readable.fromWeb>[0]), tap, createWriteStream(part))
  } catch (e) {
    if (existsSync(part)) unlinkSync(part)
    throw e
  }
  const got = h.digest('hex')
  for (const [what, hash] of [
    ['recorded', expect],
    ['index', w.sha256]
  ] as const) {
    if (hash && got !== hash) {
      unlinkSync(part)
      throw new Error(`sha256 of ${w.filename} is ${got}, but the ${what} hash is ${hash}: the download is corrupt or not the expected file`)
    }
  }
  renameSync(part, final)
  return final
}

/** `python3 -m pip download` (used when the index cannot be reached with fetch, e.g. behind a proxy, and for CUDA wheels). */
export function pipDownload(specs: string[], dir: string): string[] {
  mkdirSync(dir, { recursive: true })
  const before = new Set(readdirSync(dir))
  const python = process.env.PYTHON || 'python3'
  const args = [
    '-m',
    'pip',
    'download',
    '--no-deps',
    '--only-binary=:all:',
    '--python-version',
    '3.11',
    '--platform',
    'manylinux_2_28_x86_64',
    '--platform',
    'manylinux_2_27_x86_64',
    '--platform',
    'manylinux2014_x86_64',
    '-d',
    dir,
    ...specs
  ]
  const r = spawnSync(python, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  if (r.error || r.status !== 0) {
    throw new Error(`${python} ${args.join(' ')} failed: ${(r.error?.message ?? r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`)
  }
  const names = readdirSync(dir).filter((f) => f.endsWith('.whl'))
  // pip reuses files already there; return every wheel that matches a requested project
  const wanted = specs.map((s) => normalize(/^[A-Za-z0-9_.-]+/.exec(s)?.[0] ?? s))
  return names
    .filter((f) => wanted.includes(normalize(f.split('-')[0])) || !before.has(f))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).size > 0)
}
