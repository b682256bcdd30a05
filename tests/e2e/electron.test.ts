// Electron smoke test (Playwright's _electron): the desktop shell starts, shows the app, exposes
// only window.api (no Node in the renderer), runs hardened (context isolation, sandbox, no Node
// integration), refuses navigation, and answers a request over IPC. Runs where the Electron
// binary exists; reported as skipped, with the reason, where it does not.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
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
  ? 'desktop shell (Electron)'
  : 'desktop shell (Electron) — skipped: the Electron binary is not installed here (npm install ran with ELECTRON_SKIP_BINARY_DOWNLOAD=1); the browser-build e2e covers the same renderer'

suite(title, () => {
  let app: ElectronApplication
  let win: Page
  let home: string
  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], { cwd: root, stdio: 'inherit' })
    home = mkdtempSync(join(tmpdir(), 'iwsft-electron-'))
    app = await _electron.launch({ executablePath: binary!, args: [root, '--no-sandbox'], env: { ...process.env, IWSFT_HOME: home } })
    win = await app.firstWindow()
    await win.getByTestId('datasets-table').waitFor({ timeout: 60_000 })
  }, 300_000)
  afterAll(async () => {
    await app?.close()
    if (home) rmSync(home, { recursive: true, force: true })
  })

  it('shows the default project with the built-in bandit', async () => {
    await expect.poll(() => win.getByTestId('datasets-table').innerText()).toMatch(/bandit/)
    await win.screenshot({ path: join(SCREENSHOT_DIR, 'electron-datasets.png') })
  })

  it('gives the renderer window.api and no Node', async () => {
    const r = await win.evaluate('({ api: typeof window.api, require: typeof globalThis.require, process: typeof globalThis.process })')
    expect(r).toEqual({ api: 'object', require: 'undefined', process: 'undefined' })
    const res = (await win.evaluate("window.api.invoke('runs.snapshot', { runId: 'x' })")) as { ok: boolean }
    expect(res.ok).toBe(false)
  })

  it('runs hardened and blocks navigation', async () => {
    const prefs = (await app.evaluate(({ BrowserWindow }) => (BrowserWindow.getAllWindows()[0].webContents as unknown as { getLastWebPreferences(): Record<string, unknown> }).getLastWebPreferences())) as Record<string, unknown> | null
    expect(prefs?.contextIsolation).toBe(true)
    expect(prefs?.sandbox).toBe(true)
    expect(prefs?.nodeIntegration).toBe(false)
    const before = win.url()
    await win.evaluate("location.href = 'https://example.com/'")
    await win.waitForTimeout(500)
    expect(win.url()).toBe(before)
  })
})
