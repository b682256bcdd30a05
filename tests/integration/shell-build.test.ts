// No Electron process may load a native module (issue 12): better-sqlite3 and tfjs-node are
// built for Node's ABI, not Electron's. This builds the desktop app with electron-vite (into a
// folder of its own) and reads what the shell's bundle (out/main) and the preload's import:
// Electron and Node's built-ins only, no npm package at all, and no trace of a native module.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const ROOT = resolve(import.meta.dirname, '../..')
let out: string

/** Every module a bundle imports or requires, as written. */
function importsOf(code: string): string[] {
  const found = new Set<string>()
  for (const re of [/\bfrom\s*["']([^"']+)["']/g, /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g, /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g, /^\s*import\s*["']([^"']+)["']/gm]) {
    for (const m of code.matchAll(re)) found.add(m[1])
  }
  return [...found].sort()
}
const builtin = (m: string): boolean => m.startsWith('node:') || builtinModules.includes(m)

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'iwsft-build-'))
  execFileSync(process.execPath, [join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build', '--outDir', out, '--logLevel', 'warn'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit']
  })
}, 300_000)
afterAll(() => rmSync(out, { recursive: true, force: true }))

describe('the desktop shell’s build', () => {
  it('out/main imports Electron and Node built-ins only: no native module, no back-end code', () => {
    const files = readdirSync(join(out, 'main')).filter((f) => /\.(c|m)?js$/.test(f))
    expect(files).toEqual(['index.js'])
    const code = readFileSync(join(out, 'main', 'index.js'), 'utf8')
    const imports = importsOf(code)
    expect(imports).toContain('electron')
    expect(imports.filter((m) => m !== 'electron' && !builtin(m))).toEqual([])
    for (const native of ['better-sqlite3', 'tfjs-node', '.node"', 'bindings', 'process.dlopen', 'createRequire']) expect(code).not.toContain(native)
    // what the shell runs instead: the back end's command line, in a child process
    expect(code).toContain('"serve"')
    expect(code).toContain('"--shell"')
  })

  it('the preload requires Electron only', () => {
    const files = readdirSync(join(out, 'preload'))
    expect(files.length).toBe(1)
    expect(importsOf(readFileSync(join(out, 'preload', files[0]), 'utf8'))).toEqual(['electron'])
  })
})
