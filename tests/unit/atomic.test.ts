// Safe writes: temp file + rename, no overwrite without asking, no escape from the chosen folder.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ExportExistsError, ExportPathError, resolveInside, writeFileAtomic, writeFilesAtomic } from '../../src/main/export/atomic.ts'

const root = mkdtempSync(join(tmpdir(), 'iwsft-atomic-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let n = 0
const fresh = (): string => {
  const d = join(root, `d${++n}`)
  mkdirSync(d)
  return d
}

describe('atomic writes', () => {
  it('writes the file, creating the folder, and leaves no temporary behind', async () => {
    const dir = join(root, 'new', 'nested')
    const p = await writeFileAtomic(dir, 'a.txt', 'hello')
    expect(p).toBe(join(dir, 'a.txt'))
    expect(readFileSync(p, 'utf8')).toBe('hello')
    expect(readdirSync(dir)).toEqual(['a.txt'])
  })

  it('refuses to overwrite unless asked, and then replaces the content', async () => {
    const dir = fresh()
    await writeFileAtomic(dir, 'a.bin', new Uint8Array([1, 2, 3]))
    await expect(writeFileAtomic(dir, 'a.bin', 'new')).rejects.toThrow(ExportExistsError)
    await expect(writeFileAtomic(dir, 'a.bin', 'new')).rejects.toThrow(/already exists; pass overwrite/)
    expect(Array.from(readFileSync(join(dir, 'a.bin')))).toEqual([1, 2, 3])
    await writeFileAtomic(dir, 'a.bin', 'new', { overwrite: true })
    expect(readFileSync(join(dir, 'a.bin'), 'utf8')).toBe('new')
    expect(readdirSync(dir)).toEqual(['a.bin'])
  })

  it('a crash mid-write leaves no partial file at the destination and no temporary', async () => {
    const dir = fresh()
    const crash = async (write: (c: string | Uint8Array) => void): Promise<void> => {
      write('first half of the file')
      throw new Error('disk on fire')
    }
    await expect(writeFileAtomic(dir, 'out.safetensors', crash)).rejects.toThrow('disk on fire')
    expect(readdirSync(dir)).toEqual([])
    // an existing destination survives a failed overwrite intact
    writeFileSync(join(dir, 'out.safetensors'), 'old complete file')
    await expect(writeFileAtomic(dir, 'out.safetensors', crash, { overwrite: true })).rejects.toThrow('disk on fire')
    expect(readFileSync(join(dir, 'out.safetensors'), 'utf8')).toBe('old complete file')
    expect(readdirSync(dir)).toEqual(['out.safetensors'])
  })

  it('several files land together or not at all', async () => {
    const dir = fresh()
    await expect(
      writeFilesAtomic(dir, [
        { name: 'model.json', content: '{}' },
        {
          name: 'group1-shard1of1.bin',
          content: () => {
            throw new Error('killed')
          }
        }
      ])
    ).rejects.toThrow('killed')
    expect(readdirSync(dir)).toEqual([])
    // one existing file stops the whole set before anything is written
    writeFileSync(join(dir, 'b.bin'), 'keep')
    await expect(
      writeFilesAtomic(dir, [
        { name: 'a.json', content: '{}' },
        { name: 'b.bin', content: 'x' }
      ])
    ).rejects.toThrow(ExportExistsError)
    expect(readdirSync(dir)).toEqual(['b.bin'])
  })

  it('refuses names outside the chosen folder: .., absolute paths, symlinks leading out', async () => {
    const dir = fresh()
    const outside = fresh()
    await expect(writeFileAtomic(dir, '../escape.txt', 'x')).rejects.toThrow(ExportPathError)
    await expect(writeFileAtomic(dir, 'sub/../../escape.txt', 'x')).rejects.toThrow(/'\.\.' is not allowed/)
    await expect(writeFileAtomic(dir, join(outside, 'abs.txt'), 'x')).rejects.toThrow(/absolute path/)
    symlinkSync(outside, join(dir, 'link'))
    await expect(writeFileAtomic(dir, 'link/x.txt', 'x')).rejects.toThrow(/symlink to .* outside the export folder/)
    symlinkSync(join(outside, 'target.txt'), join(dir, 'file-link.txt'))
    await expect(writeFileAtomic(dir, 'file-link.txt', 'x', { overwrite: true })).rejects.toThrow(/dangling symlink|outside the export folder/)
    writeFileSync(join(outside, 'target.txt'), 'theirs')
    await expect(writeFileAtomic(dir, 'file-link.txt', 'x', { overwrite: true })).rejects.toThrow(/outside the export folder/)
    expect(readFileSync(join(outside, 'target.txt'), 'utf8')).toBe('theirs')
    expect(existsSync(join(root, 'escape.txt'))).toBe(false)
    expect(readdirSync(outside)).toEqual(['target.txt'])
    // a subfolder inside is fine and is created
    expect(resolveInside(dir, 'sub/dir/f.csv')).toBe(join(dir, 'sub', 'dir', 'f.csv'))
  })
})
