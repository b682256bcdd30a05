// Issue 11, the server's paths and uploads, through real HTTP: the paths a request names
// (export, report, project open/create, import, follow) are confined to the project's folder,
// the upload folder, `--allow-dir` folders and what the desktop shell grants after a dialog
// (symbolic links followed); an error never quotes a file's content; /upload has a size cap
// with a clear 413, and its folder is cleaned of crashed back ends' leftovers at start; a
// malformed %-escape is a 400; and a second back end on the same project is refused by name.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { requestSchemas } from '../../src/shared/contract.ts'
import { PATH_FIELDS } from '../../src/main/services/allowed-paths.ts'
import { startServer, type RunningServer } from '../../src/main/services/http-server.ts'

let dir: string
let outside: string
let allowed: string
let srv: RunningServer

const call = async (s: RunningServer, name: string, body: unknown): Promise<{ status: number; json: any }> => {
  const res = await fetch(`${s.origin}/api/${name}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${s.token}` }, body: JSON.stringify(body) })
  return { status: res.status, json: await res.json() }
}
const renderer = (): string => {
  const r = join(dir, 'renderer')
  mkdirSync(r, { recursive: true })
  writeFileSync(join(r, 'index.html'), '<!doctype html><title>t</title>')
  return r
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iwsft-confine-'))
  outside = mkdtempSync(join(tmpdir(), 'iwsft-outside-'))
  allowed = mkdtempSync(join(tmpdir(), 'iwsft-allowed-'))
  mkdirSync(join(dir, 'proj'))
  srv = await startServer({ projectFile: join(dir, 'proj', 'p.iwsft'), port: 0, rendererDir: renderer(), uploadRoot: join(dir, 'uploads'), allowDirs: [allowed], maxUpload: 64 * 1024 })
})
afterAll(async () => {
  await srv?.close()
  for (const d of [dir, outside, allowed]) rmSync(d, { recursive: true, force: true })
})

describe('paths the app’s requests name', () => {
  it('lists every path-like field of the contract in PATH_FIELDS', () => {
    const pathLike = /^(path|file|out|outDir|dir|folder|tokenizerFile)$|File$|Dir$|Path$/
    const found: string[] = []
    for (const [name, schema] of Object.entries(requestSchemas)) {
      const shape = (schema as unknown as z.ZodObject).shape as Record<string, unknown>
      for (const key of Object.keys(shape)) if (pathLike.test(key)) found.push(`${name}.${key}`)
    }
    const listed = Object.entries(PATH_FIELDS).flatMap(([name, fields]) => fields!.map((f) => `${name}.${f}`))
    expect(found.sort()).toEqual(listed.sort())
  })

  it('refuses an export, a report, a project and an import outside the allowed folders, and writes nothing', async () => {
    const target = join(outside, 'export')
    const exp = await call(srv, 'runs.export', { runId: 1, format: 'safetensors', outDir: target })
    expect(exp.status).toBe(403)
    expect(exp.json.error.code).toBe('forbidden')
    expect(exp.json.error.message).toMatch(/outDir ".*export" is outside the folders the app may use/)
    expect(exp.json.error.message).toMatch(/--allow-dir/)
    const rep = await call(srv, 'reports.make', { runIds: [1], format: 'html', out: join(outside, 'r.html') })
    expect(rep.status).toBe(403)
    const proj = await call(srv, 'project.open', { file: join(outside, 'x.iwsft'), create: true })
    expect(proj.status).toBe(403)
    writeFileSync(join(outside, 'd.jsonl'), '{"prompt":"a","completion":"b","score":1}\n')
    const imp = await call(srv, 'datasets.import', { path: join(outside, 'd.jsonl'), importId: 'i' })
    expect(imp.status).toBe(403)
    expect(readdirSync(outside)).toEqual(['d.jsonl'])
  })

  it('lets the same requests through inside the project’s folder and an --allow-dir folder', async () => {
    // past the path check to the handler: there is no run 1 in this project
    expect((await call(srv, 'runs.export', { runId: 1, format: 'safetensors', outDir: join(dir, 'proj', 'exports', 'a') })).status).toBe(404)
    expect((await call(srv, 'runs.export', { runId: 1, format: 'safetensors', outDir: join(allowed, 'b') })).status).toBe(404)
    writeFileSync(join(allowed, 'd.jsonl'), '{"prompt":"a","completion":"b","score":1}\n')
    expect((await call(srv, 'datasets.import', { path: join(allowed, 'd.jsonl'), importId: 'i2' })).status).toBe(200)
  })

  it('follows symbolic links before checking: a link in the project’s folder to a folder outside is refused', async () => {
    symlinkSync(outside, join(dir, 'proj', 'link'))
    const r = await call(srv, 'runs.export', { runId: 1, format: 'safetensors', outDir: join(dir, 'proj', 'link', 'e') })
    expect(r.status).toBe(403)
    expect(existsSync(join(outside, 'e'))).toBe(false)
  })

  it('refuses to follow a system file, and a followed file’s bad line is named, never quoted', async () => {
    const passwd = await call(srv, 'byo.follow', { followId: 'f0', path: '/etc/passwd' })
    expect(passwd.status).toBe(403)
    expect(JSON.stringify(passwd.json)).not.toMatch(/root:/)
    // a file in the project's folder whose first line is not JSON
    const file = join(dir, 'proj', 'log.jsonl')
    writeFileSync(file, 'root:x:0:0:root:/root:/bin/bash\n')
    const errors: string[] = []
    const off = srv.services.subscribe((e, p) => e === 'byo.error' && errors.push((p as { message: string }).message))
    expect((await call(srv, 'byo.follow', { followId: 'f1', path: file, minUpdateMs: 0 })).status).toBe(200)
    await expect.poll(() => errors.length, { timeout: 10_000 }).toBeGreaterThan(0)
    off()
    await call(srv, 'byo.unfollow', { followId: 'f1' })
    expect(errors[0]).toMatch(/line 1: not valid JSON/)
    expect(errors.join('\n')).not.toMatch(/root:x|"root/)
  })

  it('lets a granted folder or file through (the desktop shell’s dialogs)', async () => {
    const picked = mkdtempSync(join(tmpdir(), 'iwsft-picked-'))
    try {
      expect((await call(srv, 'runs.export', { runId: 1, format: 'tfjs', outDir: join(picked, 'x') })).status).toBe(403)
      srv.services.grantPath(picked, 'dir')
      expect((await call(srv, 'runs.export', { runId: 1, format: 'tfjs', outDir: join(picked, 'x') })).status).toBe(404)
      const file = join(outside, 'picked.iwsft')
      srv.services.grantPath(file, 'file')
      // a granted file is only that file, not its folder
      expect((await call(srv, 'reports.make', { runIds: [1], format: 'html', out: join(outside, 'other.html') })).status).toBe(403)
      const opened = await call(srv, 'project.open', { file, create: true })
      expect(opened.status).toBe(200)
      expect(opened.json.value.file).toBe(file)
      // the recent list's projects open again from anywhere
      const back = await call(srv, 'project.open', { file: join(dir, 'proj', 'p.iwsft') })
      expect(back.status).toBe(200)
      expect((await call(srv, 'project.open', { file })).status).toBe(200)
      expect((await call(srv, 'project.open', { file: join(dir, 'proj', 'p.iwsft') })).status).toBe(200)
    } finally {
      rmSync(picked, { recursive: true, force: true })
    }
  })
})

function rawUpload(s: RunningServer, body: Buffer, chunked: boolean): Promise<{ status: number; json: any }> {
  return new Promise((res, rej) => {
    const headers: Record<string, string> = { authorization: `Bearer ${s.token}` }
    if (!chunked) headers['content-length'] = String(body.length)
    const r = request({ host: '127.0.0.1', port: s.port, path: '/upload?name=big.jsonl', method: 'POST', headers }, (m) => {
      let text = ''
      m.on('data', (d) => (text += d))
      m.on('end', () => res({ status: m.statusCode ?? 0, json: JSON.parse(text) }))
    })
    r.on('error', rej)
    if (chunked) {
      // in pieces, without a length: the cap is counted as the bytes arrive
      for (let i = 0; i < body.length; i += 16 * 1024) r.write(body.subarray(i, i + 16 * 1024))
      r.end()
    } else r.end(body)
  })
}

describe('/upload', () => {
  it('answers an upload over the cap with a clear 413, declared or streamed, and keeps nothing of it', async () => {
    const big = Buffer.alloc(200 * 1024, 'a')
    for (const chunked of [false, true]) {
      const r = await rawUpload(srv, big, chunked)
      expect(r.status).toBe(413)
      expect(r.json.error.message).toMatch(/big\.jsonl is .*; uploads are limited to 0\.1 MB \(start the back end with --max-upload-mb N/)
    }
    expect(readdirSync(srv.uploadDir)).toEqual([])
    const small = await rawUpload(srv, Buffer.from('{"prompt":"a","completion":"b","score":1}\n'), false)
    expect(small.status).toBe(200)
  })

  it('removes upload folders left by back ends that are gone, and keeps a live one’s', async () => {
    const root = join(dir, 'uploads2')
    // the pid of a process that has ended
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout
    mkdirSync(join(root, `${gone}-crash`, 'u-1'), { recursive: true })
    writeFileSync(join(root, `${gone}-crash`, 'u-1', 'half.jsonl'), 'half')
    mkdirSync(join(root, `${process.ppid}-alive`), { recursive: true })
    const s2 = await startServer({ projectFile: join(dir, 'p2.iwsft'), port: 0, rendererDir: renderer(), uploadRoot: root })
    try {
      const left = readdirSync(root)
      expect(left).not.toContain(`${gone}-crash`)
      expect(left).toContain(`${process.ppid}-alive`)
      expect(left).toContain(s2.uploadDir.split(/[\\/]/).pop())
    } finally {
      await s2.close()
    }
    expect(existsSync(s2.uploadDir)).toBe(false)
  })
})

describe('odd requests and a second back end', () => {
  it('answers a malformed %-escape with 400, not 500', async () => {
    for (const path of ['/%E0%A4%A', '/assets/%zz.js', '/%']) {
      const status = await new Promise<number>((res, rej) => {
        const r = request({ host: '127.0.0.1', port: srv.port, path }, (m) => {
          m.resume()
          res(m.statusCode ?? 0)
        })
        r.on('error', rej)
        r.end()
      })
      expect(status).toBe(400)
    }
  })

  it('refuses a second back end on the same project, naming the first; takes it once that one stopped', async () => {
    const file = join(dir, 'shared.iwsft')
    const first = await startServer({ projectFile: file, port: 0, rendererDir: renderer(), uploadRoot: join(dir, 'uploads3') })
    await expect(startServer({ projectFile: file, port: 0, rendererDir: renderer(), uploadRoot: join(dir, 'uploads3') })).rejects.toThrow(/already open in another back end of this process/)
    await first.close()
    // another process holding it (`iwsft serve`, or the desktop app's back end)
    const root = join(import.meta.dirname, '../..')
    const child = spawn(process.execPath, [join(root, 'bin/iwsft.mjs'), 'serve', '--no-open', '--print-json', '--project', file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      const ready = await new Promise<{ pid: number }>((res, rej) => {
        createInterface({ input: child.stdout! }).on('line', (l) => l.startsWith('{"iwsft":"ready"') && res(JSON.parse(l)))
        child.on('exit', (c) => rej(new Error(`serve exited ${c}`)))
      })
      await expect(startServer({ projectFile: file, port: 0, rendererDir: renderer(), uploadRoot: join(dir, 'uploads3') })).rejects.toThrow(
        new RegExp(`already open in another IW-SFT back end \\(iwsft serve, process ${ready.pid},`)
      )
    } finally {
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
    }
    const again = await startServer({ projectFile: file, port: 0, rendererDir: renderer(), uploadRoot: join(dir, 'uploads3') })
    await again.close()
  })
})
