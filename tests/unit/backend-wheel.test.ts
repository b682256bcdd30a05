// The wheel (zip) reader used by `iwsft backend install`: stored and deflated members, the
// central directory, selective extraction with size checks, and the sha256 helper.
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { extractZip, listZip, readZipText, sha256File } from '../../src/main/engine/backend/wheel.ts'
import { makeZip } from '../helpers/zip.ts'

describe('wheel reader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iwsft-wheel-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const big = Buffer.alloc(3_000_000)
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 27
  const members = [
    { name: 'tensorflow/', data: Buffer.alloc(0), deflate: false },
    { name: 'tensorflow/libtensorflow_cc.so.2', data: big, deflate: true, mode: 0o755 },
    { name: 'tensorflow/include/tensorflow/c/c_api.h', data: Buffer.from('#define TF_C_API 1\n'), deflate: false },
    { name: 'tensorflow/include/absl/base.h', data: Buffer.from('// not needed\n'), deflate: true },
    { name: 'tensorflow-2.21.0.dist-info/METADATA', data: Buffer.from('Name: tensorflow\nRequires-Dist: nvidia-cublas-cu12<13.0,>=12.5.3.2; extra == "and-cuda"\n'), deflate: true }
  ]
  const zipPath = join(dir, 'fake-1.0-cp311-cp311-manylinux_2_27_x86_64.whl')
  writeFileSync(zipPath, makeZip(members))

  it('lists every member with sizes, methods and modes', async () => {
    const es = await listZip(zipPath)
    expect(es.map((e) => e.name)).toEqual(members.map((m) => m.name))
    const lib = es.find((e) => e.name.endsWith('.so.2'))!
    expect(lib.size).toBe(big.length)
    expect(lib.method).toBe(8)
    expect(lib.compSize).toBeLessThan(big.length)
    expect(lib.mode & 0o777).toBe(0o755)
  })

  it('extracts only the chosen members, byte for byte', async () => {
    const es = await listZip(zipPath)
    const n = await extractZip(zipPath, es, (e) => (e.name.startsWith('tensorflow/include/tensorflow/') || e.name.endsWith('.so.2') ? join(dir, 'out', e.name) : null))
    expect(n).toBe(2)
    expect(readFileSync(join(dir, 'out/tensorflow/libtensorflow_cc.so.2')).equals(big)).toBe(true)
    expect(statSync(join(dir, 'out/tensorflow/libtensorflow_cc.so.2')).mode & 0o100).toBeTruthy()
    expect(readFileSync(join(dir, 'out/tensorflow/include/tensorflow/c/c_api.h'), 'utf8')).toBe('#define TF_C_API 1\n')
    expect(existsSync(join(dir, 'out/tensorflow/include/absl/base.h'))).toBe(false)
  })

  it('reads a text member (the wheel METADATA)', async () => {
    const es = await listZip(zipPath)
    expect(
      await readZipText(
        zipPath,
        es.find((e) => e.name.endsWith('METADATA'))!
      )
    ).toMatch(/extra == "and-cuda"/)
  })

  it('rejects a file that is not a zip, a truncated one and a member shorter than its directory says, naming the file', async () => {
    const bad = join(dir, 'bad.whl')
    writeFileSync(bad, Buffer.from('this is not a zip file at all, but long enough to scan'))
    await expect(listZip(bad)).rejects.toThrow(`${bad} is not a zip file, or is truncated`)
    const cut = join(dir, 'cut.whl')
    const whole = readFileSync(zipPath)
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)))
    await expect(listZip(cut)).rejects.toThrow(`${cut} is not a zip file, or is truncated`)
    const liar = join(dir, 'liar.whl')
    writeFileSync(liar, makeZip([{ name: 'lib.so', data: big, deflate: true, claimSize: big.length + 1 }]))
    const es = await listZip(liar)
    const to = join(dir, 'liar-out', 'lib.so')
    await expect(extractZip(liar, es, () => to)).rejects.toThrow(new RegExp(`^${liar}: lib\\.so: .*bytes`))
    expect(existsSync(to)).toBe(false)
  })

  it('counts progress over the extracted members only', async () => {
    const es = await listZip(zipPath)
    const seen: Array<[number, number]> = []
    await extractZip(
      zipPath,
      es,
      (e) => (e.name.endsWith('.h') ? join(dir, 'prog', e.name) : null),
      (done, total) => seen.push([done, total])
    )
    expect(seen).toEqual([
      [1, 2],
      [2, 2]
    ])
  })

  it('hashes files with sha256', async () => {
    expect(await sha256File(zipPath)).toBe(createHash('sha256').update(readFileSync(zipPath)).digest('hex'))
  })
})
