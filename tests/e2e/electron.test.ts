// Electron smoke test (Playwright's _electron), for machines with the Electron binary: the
// desktop app builds and starts, its window shows the app served by the back end the shell
// started under Node, the page gets only the preload's small surface (token, dialogs, restart;
// no Node), the window runs hardened and refuses navigation, no Electron process maps a native
// module (better-sqlite3, tfjs-node) while the back end's Node process does, and closing the
// app stops the back end. Where the binary is missing it is reported as skipped with what it
// would check; tests/integration/shell.test.ts runs the same shell under Node with a stand-in.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { _electron, type ElectronApplication, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SCREENSHOT_DIR } from './helpers.ts'

const root = resolve(import.meta.dirname, '../..')
function electronBinary(): string | null {
  try {
    const p = createRequire(import.meta.url)('electron') as unknown
    return typeof p === 'string' && existsSync(p) ? p : null
  } catch {
    return null
  }
}
const binary = electronBinary()
const suite = binary ? describe : describe.skip
const title = binary
  ? 'desktop app (Electron)'
  : 'desktop app (Electron) — skipped: the Electron binary is not installed here (npm install ran with ELECTRON_SKIP_BINARY_DOWNLOAD=1). With it, this builds the app, starts Electron and checks: the window shows the app from the back end the shell started under Node; window.api is only token/pickFile/restartBackend and the page has no Node; the window is hardened and refuses navigation; no Electron process maps better-sqlite3 or tfjs-node; closing the app stops the back end. The same shell runs under Node with a stand-in Electron in tests/integration/shell.test.ts'

/** The native modules a process has mapped (Linux: /proc/PID/maps). */
const nativeModules = (pid: number): string[] => [...new Set(readFileSync(`/proc/${pid}/maps`, 'utf8').match(/[^\s/]+\.node$/gm) ?? [])]
/** The shell's back end: `node bin/iwsft.mjs serve --shell …` */
const isBackend = (pid: number): boolean => {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
  return argv.includes('serve') && argv.includes('--shell')
}
const children = (pid: number): number[] =>
  readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1]) === pid
      } catch {
        return false
      }
    })
    .map(Number)

suite(title, () => {
  let app: ElectronApplication
  let win: Page
  let home: string
  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], { cwd: root, stdio: 'inherit' })
    home = mkdtempSync(join(tmpdir(), 'iwsft-electron-'))
    app = await _electron.launch({
      executablePath: binary!,
      args: [root, '--no-sandbox', '--project', join(home, 'e.iwsft')],
      env: { ...process.env, IWSFT_HOME: home, npm_node_execpath: process.execPath }
    })
    win = await app.firstWindow()
    await win.getByTestId('datasets-table').waitFor({ timeout: 120_000 })
  }, 300_000)
  let closed = false
  afterAll(async () => {
    if (!closed) await app?.close()
    if (home) rmSync(home, { recursive: true, force: true })
  })

  it('shows the project with the built-in bandit, served by the back end on 127.0.0.1', async () => {
    await expect.poll(() => win.getByTestId('datasets-table').innerText()).toMatch(/bandit/)
    expect(win.url()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    await win.screenshot({ path: join(SCREENSHOT_DIR, 'electron-datasets.png') })
  })

  it('gives the page the preload’s small surface and no Node; the token works on the back end', async () => {
    const r = await win.evaluate('({ api: Object.keys(window.api).sort(), require: typeof globalThis.require, process: typeof globalThis.process })')
    expect(r).toEqual({ api: ['pickFile', 'restartBackend', 'token'], require: 'undefined', process: 'undefined' })
    const status = await win.evaluate(
      "window.api.token().then((t) => fetch('/api/project.info', { method: 'POST', headers: { authorization: 'Bearer ' + t }, body: '{}' })).then((r) => r.status)"
    )
    expect(status).toBe(200)
  })

  it('runs hardened and blocks navigation', async () => {
    const prefs = (await app.evaluate(({ BrowserWindow }) =>
      (BrowserWindow.getAllWindows()[0].webContents as unknown as { getLastWebPreferences(): Record<string, unknown> }).getLastWebPreferences()
    )) as Record<string, unknown> | null
    expect(prefs?.contextIsolation).toBe(true)
    expect(prefs?.sandbox).toBe(true)
    expect(prefs?.nodeIntegration).toBe(false)
    const before = win.url()
    await win.evaluate("location.href = 'https://example.com/'")
    await win.waitForTimeout(500)
    expect(win.url()).toBe(before)
  })

  it('maps no native module in any Electron process; the back end’s Node does', () => {
    const main = app.process().pid!
    const all = [main, ...children(main)]
    const backend = all.find(isBackend)
    expect(backend).toBeDefined()
    // the main process and its Chromium children (renderer, GPU, utility): Electron's
    for (const p of all.filter((p) => p !== backend)) expect(nativeModules(p).filter((m) => /better_sqlite3|tfjs_binding/.test(m))).toEqual([])
    expect(nativeModules(backend!)).toContain('better_sqlite3.node')
  })

  it('stops the back end when the app closes', async () => {
    const main = app.process().pid!
    const backend = children(main).find(isBackend)!
    await app.close()
    closed = true
    await expect.poll(() => existsSync(`/proc/${backend}`), { timeout: 20_000 }).toBe(false)
  })
})
