// The desktop shell's logic under Node, with a stand-in `electron` module (shell-stand-in.ts) and
// the REAL back end: the shell starts `iwsft serve` in a Node child process, reads its address,
// opens one hardened window on it, hands the token only to that page, routes the native dialogs
// (granting what was picked to the back end) and the back end's PDF printing to Electron, shows
// a back end that died with its last lines and restarts it, and stops it (cancelling its jobs)
// when the window closes. What the real Electron binary adds is in tests/e2e/electron.test.ts.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startBackend } from '../../src/main/electron/backend-process.ts'
import { runShell, type Shell } from '../../src/main/electron/shell.ts'
import { CHANNELS } from '../../src/preload/channels.ts'
import { buildRenderer, rendererStale } from '../../src/main/cli/commands/serve.ts'
import { CSP } from '../../src/main/services/csp.ts'
import { fileRecentList, memoryRecentList, type RecentList } from '../../src/main/services/recent.ts'
import { openProject } from '../../src/main/store/index.ts'
import { quickBandit } from '../helpers/configs.ts'
import { CHROMIUM, hasChromium, launchChromium, SCREENSHOT_DIR } from '../e2e/helpers.ts'
import { FAKE_PDF, fakeElectron, type Fake } from './shell-stand-in.ts'

const ROOT = resolve(import.meta.dirname, '../..')
const PRELOAD = join(ROOT, 'out', 'preload', 'index.cjs')
let dir: string
let home: string
const running: Array<{ fake: Fake; shell: Shell }> = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iwsft-shell-'))
  home = join(dir, 'home')
  mkdirSync(home)
  // the back end serves the built renderer; build it once here rather than in each child
  if (rendererStale()) await buildRenderer(() => {})
}, 180_000)
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.fake.app.quit()
    await r.shell.backend()?.stop()
  }
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function launch(o: { project?: string; fake?: Fake; findNode?: () => string | null; recent?: RecentList } = {}): { fake: Fake; shell: Shell; logs: string[] } {
  const fake = o.fake ?? fakeElectron()
  const logs: string[] = []
  const shell = runShell(fake.electron, {
    root: ROOT,
    preload: PRELOAD,
    argv: o.project ? ['--project', o.project] : [],
    findNode: o.findNode ?? (() => process.execPath),
    startBackend: (b) => startBackend({ ...b, env: { IWSFT_HOME: home } }),
    recent: o.recent ?? memoryRecentList(),
    log: (l) => logs.push(l)
  })
  running.push({ fake, shell })
  return { fake, shell, logs }
}

const shown = (url: string): string => decodeURIComponent(url.replace(/^data:text\/html;charset=utf-8,/, ''))

/** A request to the back end as the app's page makes it, with the token the preload handed over. */
async function call(fake: Fake, name: string, input: unknown): Promise<{ status: number; json: any }> {
  const token = (await fake.invoke(CHANNELS.token, {})) as string
  const res = await fetch(`${new URL(fake.win().url).origin}/api/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(input)
  })
  return { status: res.status, json: await res.json() }
}

describe('the desktop shell (stand-in Electron, real back end)', () => {
  it('starts the back end in a Node child, reads its address, and opens one hardened window on it', async () => {
    const project = join(dir, 'a.iwsft')
    const { fake, shell } = launch({ project })
    await shell.ready
    const backend = shell.backend()!
    expect(backend.info.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(backend.info.project).toBe(project)
    // the back end is a separate process run by Node, not by Electron (here: the Node running the tests)
    expect(backend.info.pid).not.toBe(process.pid)
    if (existsSync(`/proc/${backend.info.pid}/exe`)) expect(readlinkSync(`/proc/${backend.info.pid}/exe`)).toBe(realpathSync(process.execPath))

    // one window, hardened, showing the app at the back end's origin (no token in the URL)
    const wins = fake.windows
    expect(wins.length).toBe(1)
    const w = fake.win()
    expect(w.url).toBe(`${backend.info.origin}/`)
    expect(w.shown).toBe(true)
    expect(w.options.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webviewTag: false,
      webSecurity: true,
      preload: PRELOAD
    })
    const page = await fetch(w.url)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toBe(CSP)

    // the session: the CSP on every response, requests to nothing but the back end, permissions denied
    const s = fake.session
    let headers: Record<string, string[]> = {}
    s.headersReceived!({ url: w.url, responseHeaders: {} }, (r) => (headers = r.responseHeaders))
    expect(headers['Content-Security-Policy']).toEqual([CSP])
    const allowed = (url: string): boolean => {
      let cancel = true
      s.beforeRequest!({ url }, (r) => (cancel = r.cancel))
      return !cancel
    }
    expect(allowed(`${backend.info.origin}/assets/index.js`)).toBe(true)
    expect(allowed(`ws://127.0.0.1:${backend.info.port}/ws`)).toBe(true)
    expect(allowed(`http://127.0.0.1:${backend.info.port + 1}/`)).toBe(false)
    expect(allowed('https://example.com/')).toBe(false)
    let granted: boolean | null = null
    s.permissionRequest!({}, 'media', (ok) => (granted = ok))
    expect(granted).toBe(false)
    expect(s.permissionCheck!()).toBe(false)

    // navigation and new windows are blocked; only documentation links leave, to the system browser
    let prevented = false
    w.webContents.emit('will-navigate', { preventDefault: () => (prevented = true) }, 'https://example.com/')
    expect(prevented).toBe(true)
    expect(w.webContents.openHandler!({ url: 'https://arxiv.org/abs/2507.12856' })).toEqual({ action: 'deny' })
    expect(w.webContents.openHandler!({ url: 'https://evil.example/' })).toEqual({ action: 'deny' })
    expect(w.webContents.openHandler!({ url: 'http://arxiv.org/' })).toEqual({ action: 'deny' })
    await new Promise((r) => setTimeout(r, 10))
    expect(fake.external).toEqual(['https://arxiv.org/abs/2507.12856'])
  })

  it('hands the token over only to the app’s own page (exact origin, top frame, its window)', async () => {
    const { fake, shell } = launch({ project: join(dir, 'b.iwsft') })
    await shell.ready
    const { origin, port, token } = shell.backend()!.info
    expect(await fake.invoke(CHANNELS.token, {})).toBe(token)
    await expect(fake.invoke(CHANNELS.token, { url: `http://127.0.0.1:${port + 1}/` })).rejects.toThrow(/only for the app/)
    await expect(fake.invoke(CHANNELS.token, { url: `http://localhost:${port}/` })).rejects.toThrow(/only for the app/)
    await expect(fake.invoke(CHANNELS.token, { url: 'https://example.com/' })).rejects.toThrow(/only for the app/)
    await expect(fake.invoke(CHANNELS.token, { url: `${origin}/`, subframe: true })).rejects.toThrow(/only for the app/)
    const other = new (fake.electron.BrowserWindow as unknown as new (o: unknown) => { webContents: never })({ webPreferences: {} })
    await expect(fake.invoke(CHANNELS.token, { url: `${origin}/`, wc: other.webContents })).rejects.toThrow(/only for the app/)
    // the token works on the back end
    const info = await call(fake, 'project.info', {})
    expect(info.status).toBe(200)
    expect(info.json.value.file).toBe(join(dir, 'b.iwsft'))
    expect((await call(fake, 'app.capabilities', {})).json.value).toMatchObject({ transport: 'http', dialogs: true })
  })

  it('routes the dialogs: what the user picked is granted to the back end, and nothing else is', async () => {
    const { fake, shell } = launch({ project: join(dir, 'c.iwsft') })
    await shell.ready
    const picked = mkdtempSync(join(tmpdir(), 'iwsft-shell-picked-'))
    try {
      const exportTo = (outDir: string): Promise<{ status: number }> => call(fake, 'runs.export', { runId: 1, format: 'safetensors', outDir })
      expect((await exportTo(join(picked, 'e'))).status).toBe(403)
      fake.openAnswers.push({ canceled: false, filePaths: [picked] })
      expect(await fake.invoke(CHANNELS.pick, {}, 'folder')).toBe(picked)
      expect(fake.dialogCalls).toEqual(['open:Choose a folder'])
      // past the path check: no run 1 in this project
      expect((await exportTo(join(picked, 'e'))).status).toBe(404)
      // a cancelled dialog grants nothing; an unknown kind or another page gets no dialog at all
      expect(await fake.invoke(CHANNELS.pick, {}, 'report-pdf')).toBeNull()
      expect(await fake.invoke(CHANNELS.pick, {}, 'anything')).toBeNull()
      expect(await fake.invoke(CHANNELS.pick, { url: 'https://example.com/' }, 'folder')).toBeNull()
      expect(fake.dialogCalls).toEqual(['open:Choose a folder', 'save:Save the PDF report'])
    } finally {
      rmSync(picked, { recursive: true, force: true })
    }
  })

  it('the File menu opens a project picked in its dialog (granted to the back end) and lists it under Open Recent', async () => {
    const first = join(dir, 'm1.iwsft')
    // the shell reads the recent list the back end writes (the same app home)
    const { fake, shell } = launch({ project: first, recent: fileRecentList(join(home, 'recent.json')) })
    await shell.ready
    type Item = { label?: string; submenu?: Item[]; click?: () => Promise<void> | void }
    const file = (): Item[] => (fake.menu!.template as Item[]).find((m) => m.label === 'File')!.submenu ?? []
    const picked = join(mkdtempSync(join(tmpdir(), 'iwsft-shell-menu-')), 'other.iwsft')
    fake.saveAnswers.push({ canceled: false, filePath: picked })
    await file().find((i) => i.label === 'New Project…')!.click!()
    expect(fake.errorBoxes).toEqual([])
    expect((await call(fake, 'project.info', {})).json.value.file).toBe(picked)
    // the menu now lists both; the first one opens from there
    const recentItems = (): Item[] => file().find((i) => i.label === 'Open Recent')!.submenu!
    expect(
      recentItems()
        .map((i) => i.label)
        .slice(0, 2)
    ).toEqual(['other.iwsft', 'm1.iwsft'])
    await recentItems()[1].click!()
    expect((await call(fake, 'project.info', {})).json.value.file).toBe(first)
    rmSync(join(picked, '..'), { recursive: true, force: true })
  })

  it('prints a PDF report with Electron’s printToPDF when the back end asks, to the file picked in the save dialog', async () => {
    const { fake, shell } = launch({ project: join(dir, 'd.iwsft') })
    await shell.ready
    const cfg = quickBandit({ train: { ...quickBandit().train, steps: 20 } })
    const started = await call(fake, 'runs.start', { config: cfg, seeds: [0] })
    expect(started.status).toBe(200)
    const runId = started.json.value.runIds[0] as number
    await expect.poll(async () => (await call(fake, 'runs.get', { runId })).json.value.status, { timeout: 60_000 }).toBe('completed')
    const out = join(mkdtempSync(join(tmpdir(), 'iwsft-shell-pdf-')), 'report.pdf')
    fake.saveAnswers.push({ canceled: false, filePath: out })
    expect(await fake.invoke(CHANNELS.pick, {}, 'report-pdf')).toBe(out)
    const made = await call(fake, 'reports.make', { runIds: [runId], format: 'pdf', out, overwrite: true })
    expect(made.status).toBe(200)
    expect(made.json.value.written).toEqual([out])
    expect(readFileSync(out, 'latin1')).toBe(FAKE_PDF)
    // printed in a hidden, sandboxed window of its own, closed afterwards
    const printer = fake.windows.find((w) => 'session' in w.options.webPreferences)!
    expect(printer.options.show).toBe(false)
    expect(printer.options.webPreferences).toMatchObject({ sandbox: true, contextIsolation: true, nodeIntegration: false })
    expect(printer.webContents.printed).toBe(1)
    expect(printer.destroyed).toBe(true)
    rmSync(join(out, '..'), { recursive: true, force: true })
  })

  it('shows a back end that died in the window, with its last lines, and restarts it from there', async () => {
    const project = join(dir, 'e.iwsft')
    const { fake, shell } = launch({ project })
    await shell.ready
    const first = shell.backend()!.info
    // the line it logs when it starts (on stderr, beside the address line on stdout)
    await expect.poll(() => shell.backend()!.lastLines().length).toBeGreaterThan(0)
    process.kill(first.pid, 'SIGKILL')
    await expect.poll(() => fake.win().url, { timeout: 10_000 }).toMatch(/^data:text\/html/)
    const page = shown(fake.win().url)
    expect(page).toMatch(/The back end stopped unexpectedly \(signal SIGKILL\)/)
    // its last log lines: the line it printed when it started, naming the project and its address
    expect(page).toContain(`${project} on ${first.origin}`)
    expect(page).toMatch(/<button id="restart"/)
    expect(page).toMatch(/script-src 'sha256-/)
    // the app's old origin gets no token now, and the restart is only for the error page
    await expect(fake.invoke(CHANNELS.token, { url: `${first.origin}/` })).rejects.toThrow()
    await fake.invoke(CHANNELS.restart, { url: `${first.origin}/` })
    expect(fake.win().url).toMatch(/^data:/)
    await fake.invoke(CHANNELS.restart, { url: fake.win().url })
    const second = shell.backend()!.info
    expect(second.pid).not.toBe(first.pid)
    expect(fake.win().url).toBe(`${second.origin}/`)
    expect((await call(fake, 'project.info', {})).json.value.file).toBe(project)
  })

  it('stops the back end when the window closes; a running job is cancelled, as on cancel', async () => {
    const project = join(dir, 'f.iwsft')
    const { fake, shell } = launch({ project })
    await shell.ready
    const { pid } = shell.backend()!.info
    const long = quickBandit({ train: { ...quickBandit().train, steps: 500_000, log_every: 50 } })
    const runId = ((await call(fake, 'runs.start', { config: long, seeds: [0] })).json.value.runIds as number[])[0]
    await expect.poll(async () => (await call(fake, 'runs.get', { runId })).json.value.live?.step ?? 0, { timeout: 60_000 }).toBeGreaterThan(0)
    fake.win().close()
    // a second quit meanwhile (Electron's window-all-closed) waits for the back end too
    fake.app.quit()
    expect(fake.app.quitted).toBe(false)
    await expect.poll(() => fake.app.quitted, { timeout: 30_000 }).toBe(true)
    expect(() => process.kill(pid, 0)).toThrow()
    const store = openProject(project, { readonly: true })
    try {
      expect(store.getRun(runId)!.status).toBe('cancelled')
    } finally {
      store.close()
    }
  })

  it('says what to install when there is no Node to run the back end', async () => {
    const { fake, shell } = launch({ findNode: () => null })
    await shell.ready
    expect(shell.backend()).toBeNull()
    expect(shown(fake.win().url)).toMatch(/Install Node\.js 20 LTS from https:\/\/nodejs\.org/)
  })

  it('a second start: the single-instance lock hands over to the first window; a second back end on the same project is refused by name', async () => {
    const project = join(dir, 'g.iwsft')
    const first = launch({ project })
    await first.shell.ready
    // a second `npm start` of the app: Electron's lock says another instance runs
    const second = launch({ project, fake: fakeElectron({ singleInstance: false }) })
    await second.shell.ready
    expect(second.fake.app.quitted).toBe(true)
    expect(second.fake.windows).toEqual([])
    // a second app with a lock of its own (another home, or `iwsft serve`) on the same project
    const third = launch({ project })
    await third.shell.ready
    expect(third.shell.backend()).toBeNull()
    expect(shown(third.fake.win().url)).toMatch(new RegExp(`already open in another IW-SFT back end \\(the desktop app, process ${first.shell.backend()!.info.pid}`))
  })

  it('offers DevTools only when running from source, never in a packaged app', async () => {
    const menuRoles = (f: Fake): string[] => JSON.stringify(f.menu!.template).match(/"role":"\w+"/g) ?? []
    const src = launch({ findNode: () => null })
    await src.shell.ready
    expect(src.fake.win().options.webPreferences.devTools).toBe(true)
    expect(menuRoles(src.fake)).toContain('"role":"toggleDevTools"')
    const packaged = launch({ findNode: () => null, fake: fakeElectron({ isPackaged: true }) })
    await packaged.shell.ready
    expect(packaged.fake.win().options.webPreferences.devTools).toBe(false)
    expect(menuRoles(packaged.fake)).not.toContain('"role":"toggleDevTools"')
    // and no request but data: pages (the shell's own) without a back end, not even DevTools'
    let cancel = false
    packaged.fake.session.beforeRequest!({ url: 'devtools://devtools/bundled/inspector.html' }, (r) => (cancel = r.cancel))
    expect(cancel).toBe(true)
  })
})

const chromiumSuite = hasChromium ? describe : describe.skip
chromiumSuite(hasChromium ? 'the shell’s pages in Chromium' : `the shell’s pages in Chromium (skipped: no Chromium at ${CHROMIUM})`, () => {
  it('shows the error page of a dead back end; its restart button (a script allowed by its CSP hash) brings the app back', async () => {
    const project = join(dir, 'h.iwsft')
    const { fake, shell } = launch({ project })
    await shell.ready
    const browser = await launchChromium()
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 700 } })
      const errors: string[] = []
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
      // what the preload gives the window, carried to the shell's handlers with the page's real URL
      await page.exposeBinding('__iwsftIpc', ({ frame }, channel: string, ...args: unknown[]) => fake.invoke(channel, { url: frame.url() }, ...args))
      await page.addInitScript(
        "window.api = { token: () => window.__iwsftIpc('iwsft:token'), pickFile: (k) => window.__iwsftIpc('iwsft:pick', k), restartBackend: () => window.__iwsftIpc('iwsft:restart') }"
      )
      await page.goto(fake.win().url)
      await expect.poll(() => page.getByTestId('datasets-table').innerText(), { timeout: 60_000 }).toMatch(/bandit/)
      mkdirSync(SCREENSHOT_DIR, { recursive: true })
      await page.screenshot({ path: join(SCREENSHOT_DIR, 'shell-app.png') })

      await expect.poll(() => shell.backend()!.lastLines().length).toBeGreaterThan(0)
      process.kill(shell.backend()!.info.pid, 'SIGKILL')
      await expect.poll(() => fake.win().url, { timeout: 10_000 }).toMatch(/^data:/)
      await page.goto(fake.win().url)
      errors.length = 0 // the app's page saw its back end go away; from here, the error page's own
      expect(await page.getByTestId('backend-error').innerText()).toMatch(/stopped unexpectedly/)
      expect(await page.getByTestId('backend-log').innerText()).toContain(project)
      await page.screenshot({ path: join(SCREENSHOT_DIR, 'shell-backend-stopped.png') })
      await page.getByTestId('restart').click()
      await expect.poll(() => fake.win().url, { timeout: 60_000 }).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
      expect(errors).toEqual([]) // no CSP violation: the inline script ran
      await page.goto(fake.win().url)
      await page.getByTestId('datasets-table').waitFor({ timeout: 60_000 })
    } finally {
      await browser.close()
    }
  })
})
