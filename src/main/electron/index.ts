// The desktop shell: the only folder that imports 'electron'. It opens the project (the most
// recent one, else the default project with the built-in datasets), wires the contract to IPC
// (every input validated by services.call against the contract's schemas), and hardens the
// window: context isolation, sandbox, no Node, a strict CSP, no remote content, navigation and
// new windows blocked, every permission denied.
import { app, BrowserWindow, dialog, ipcMain, Menu, nativeTheme, session, shell, type IpcMainInvokeEvent, type MenuItemConstructorOptions } from 'electron'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PICK_KINDS, toWireError, type EventName, type WireResult } from '../../shared/contract.ts'
import { CSP } from '../services/csp.ts'
import { createServices, IMPORT_FORMATS, type Services } from '../services/index.ts'
import { appHome, defaultProjectFile, fileRecentList } from '../services/recent.ts'
import { useUtilityProcessJobs } from './utility-jobs.ts'

const HERE = dirname(fileURLToPath(import.meta.url))
const DEV_URL = process.env.ELECTRON_RENDERER_URL // set by `electron-vite dev`
const ON_CLOSE = 'Closing the window cancels running jobs: each stops within a second, keeps what it saved, and is marked cancelled.'

/**
 * Reports as PDF with Electron's own Chromium: the report's print HTML is loaded from a temporary
 * file in a hidden, sandboxed window on a session of its own (no network: every request that is
 * not that file is refused; the app's CSP is not applied there, since the report carries its
 * inline charts), then printed A4 with backgrounds once window.__iwsftReportReady is true.
 */
function electronPrinter(): (html: string) => Promise<Uint8Array> {
  return async (html) => {
    const dir = mkdtempSync(join(tmpdir(), 'iwsft-print-'))
    const file = join(dir, 'report.html')
    writeFileSync(file, html)
    const ses = session.fromPartition('iwsft-print')
    ses.webRequest.onBeforeRequest((d, cb) => cb({ cancel: !(d.url.startsWith('file://') || d.url.startsWith('data:') || d.url.startsWith('blob:')) }))
    const w = new BrowserWindow({ show: false, width: 1000, height: 1400, webPreferences: { session: ses, sandbox: true, contextIsolation: true, nodeIntegration: false, javascript: true } })
    try {
      await w.loadFile(file)
      const t0 = Date.now()
      while (!(await w.webContents.executeJavaScript('window.__iwsftReportReady === true'))) {
        if (Date.now() - t0 > 60_000) throw new Error('the report did not finish drawing its charts within 60 s')
        await new Promise((r) => setTimeout(r, 100))
      }
      const pdf = await w.webContents.printToPDF({ pageSize: 'A4', printBackground: true })
      return new Uint8Array(pdf)
    } finally {
      w.destroy()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

let services: Services | null = null
let win: BrowserWindow | null = null
const recent = fileRecentList()

function preloadPath(): string {
  for (const f of ['index.cjs', 'index.js', 'index.mjs']) {
    const p = join(HERE, '..', 'preload', f)
    if (existsSync(p)) return p
  }
  return join(HERE, '..', 'preload', 'index.js')
}

function rendererIndex(): string {
  return join(HERE, '..', 'renderer', 'index.html')
}

/** Only our own pages may talk to the back end. */
function trustedSender(e: IpcMainInvokeEvent): boolean {
  const url = e.senderFrame?.url ?? ''
  if (DEV_URL && url.startsWith(DEV_URL)) return true
  return url.startsWith('file://') && decodeURIComponent(new URL(url).pathname).endsWith('/renderer/index.html')
}

function harden(): void {
  const ses = session.defaultSession
  ses.setPermissionRequestHandler((_wc, _perm, cb) => cb(false))
  ses.setPermissionCheckHandler(() => false)
  // no remote content: only the app's own files (and the dev server while developing)
  ses.webRequest.onBeforeRequest((details, cb) => {
    const u = details.url
    const ok = u.startsWith('file://') || u.startsWith('devtools://') || u.startsWith('data:') || u.startsWith('blob:') || (DEV_URL ? u.startsWith(DEV_URL) || u.startsWith(DEV_URL.replace(/^http/, 'ws')) : false)
    cb({ cancel: !ok })
  })
  ses.webRequest.onHeadersReceived((details, cb) => {
    cb({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [DEV_URL ? CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'") : CSP] } })
  })
  app.on('web-contents-created', (_e, contents) => {
    contents.on('will-navigate', (ev) => ev.preventDefault())
    contents.on('will-redirect', (ev) => ev.preventDefault())
    contents.on('will-attach-webview', (ev) => ev.preventDefault())
    contents.setWindowOpenHandler(({ url }) => {
      // links to documentation open in the system browser, never in the app
      if (url.startsWith('https://')) void shell.openExternal(url)
      return { action: 'deny' }
    })
  })
}

function createWindow(): BrowserWindow {
  const w = new BrowserWindow({
    width: 1440,
    height: 900,
    minWidth: 1100,
    minHeight: 700,
    show: false,
    title: 'IW-SFT Workbench',
    backgroundColor: nativeTheme.shouldUseDarkColors ? '#16181d' : '#f6f7f9',
    webPreferences: {
      preload: preloadPath(),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false
    }
  })
  w.once('ready-to-show', () => w.show())
  if (DEV_URL) void w.loadURL(DEV_URL)
  else void w.loadFile(rendererIndex())
  return w
}

async function pick(kind: string): Promise<string | null> {
  const parent = win ?? undefined
  if (kind === 'dataset') {
    const r = await dialog.showOpenDialog(parent!, {
      title: 'Import a dataset',
      properties: ['openFile'],
      filters: [{ name: 'Trace datasets', extensions: IMPORT_FORMATS.map((e) => e.slice(1)) }, { name: 'All files', extensions: ['*'] }]
    })
    return r.canceled ? null : (r.filePaths[0] ?? null)
  }
  if (kind === 'project-open') {
    const r = await dialog.showOpenDialog(parent!, { title: 'Open a project', properties: ['openFile'], filters: [{ name: 'IW-SFT projects', extensions: ['iwsft', 'sqlite'] }] })
    return r.canceled ? null : (r.filePaths[0] ?? null)
  }
  if (kind === 'folder') {
    const r = await dialog.showOpenDialog(parent!, { title: 'Choose a folder', properties: ['openDirectory', 'createDirectory'] })
    return r.canceled ? null : (r.filePaths[0] ?? null)
  }
  const report = /^report-(html|md|pdf)$/.exec(kind)
  if (report) {
    const ext = report[1]
    const name = { html: 'HTML report', md: 'Markdown report', pdf: 'PDF report' }[ext]!
    const r = await dialog.showSaveDialog(parent!, { title: `Save the ${name}`, defaultPath: join(app.getPath('documents'), `iwsft-report.${ext}`), filters: [{ name, extensions: [ext] }] })
    return r.canceled ? null : (r.filePath ?? null)
  }
  if (kind === 'project-new') {
    const r = await dialog.showSaveDialog(parent!, { title: 'New project', defaultPath: join(appHome(), 'untitled.iwsft'), filters: [{ name: 'IW-SFT projects', extensions: ['iwsft'] }] })
    return r.canceled ? null : (r.filePath ?? null)
  }
  return null
}

async function openProjectFromMenu(file: string, create: boolean): Promise<void> {
  try {
    await services!.call('project.open', { file, create })
  } catch (e) {
    dialog.showErrorBox('Could not open the project', toWireError(e).message)
  }
  buildMenu()
}

function buildMenu(): void {
  const isMac = process.platform === 'darwin'
  const recentItems: MenuItemConstructorOptions[] = recent.list().map((f) => ({ label: basename(f), sublabel: f, click: () => void openProjectFromMenu(f, false) }))
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        { label: 'New Project…', accelerator: 'CmdOrCtrl+Shift+N', click: async () => { const f = await pick('project-new'); if (f) await openProjectFromMenu(f, true) } },
        { label: 'Open Project…', accelerator: 'CmdOrCtrl+O', click: async () => { const f = await pick('project-open'); if (f) await openProjectFromMenu(f, false) } },
        { label: 'Open Recent', submenu: recentItems.length ? recentItems : [{ label: 'No recent projects', enabled: false }] },
        { type: 'separator' },
        {
          label: 'Import Dataset…',
          accelerator: 'CmdOrCtrl+I',
          click: async () => {
            const f = await pick('dataset')
            if (!f) return
            try {
              await services!.call('datasets.import', { path: f, importId: `menu-${Date.now()}` })
            } catch (e) {
              dialog.showErrorBox(`Could not import ${basename(f)}`, toWireError(e).message)
            }
          }
        },
        { type: 'separator' },
        isMac ? { role: 'close' } : { role: 'quit' }
      ]
    },
    { role: 'editMenu' },
    { label: 'View', submenu: [{ role: 'reload' }, { role: 'toggleDevTools' }, { type: 'separator' }, { role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' }] },
    { role: 'windowMenu' }
  ]
  Menu.setApplicationMenu(Menu.buildFromTemplate(template))
}

function wireIpc(s: Services): void {
  ipcMain.handle('iwsft:invoke', async (e, name: unknown, input: unknown): Promise<WireResult<unknown>> => {
    if (!trustedSender(e)) return { ok: false, error: { code: 'unauthorized', message: 'request from an untrusted page' } }
    if (typeof name !== 'string') return { ok: false, error: { code: 'invalid_input', message: 'request name must be a string' } }
    try {
      // services.call validates the name and the input against the contract's zod schemas
      return { ok: true, value: await s.call(name, input) }
    } catch (err) {
      return { ok: false, error: toWireError(err) }
    }
  })
  ipcMain.handle('iwsft:pick', async (e, kind: unknown) => {
    if (!trustedSender(e) || typeof kind !== 'string' || !PICK_KINDS.includes(kind)) return null
    return pick(kind)
  })
  s.subscribe((event: EventName, payload) => {
    if (event === 'project.changed') buildMenu()
    for (const w of BrowserWindow.getAllWindows()) if (!w.isDestroyed()) w.webContents.send(`iwsft:event:${event}`, payload)
  })
}

async function main(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit()
    return
  }
  app.on('second-instance', () => {
    if (win) {
      if (win.isMinimized()) win.restore()
      win.focus()
    }
  })
  await app.whenReady()
  useUtilityProcessJobs()
  harden()
  mkdirSync(appHome(), { recursive: true })
  const first = recent.list()[0] ?? defaultProjectFile()
  try {
    services = await createServices({ projectFile: first, transport: 'ipc', recent, dialogs: true, onClose: ON_CLOSE, printer: electronPrinter() })
  } catch (e) {
    // the last project could not be opened: say so, and fall back to the default project
    dialog.showErrorBox('Could not open the project', toWireError(e).message)
    services = await createServices({ projectFile: defaultProjectFile(), transport: 'ipc', recent, dialogs: true, onClose: ON_CLOSE, printer: electronPrinter() })
  }
  wireIpc(services)
  buildMenu()
  win = createWindow()
  win.on('closed', () => (win = null))
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) win = createWindow()
  })
}

let quitting = false
app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit()
})
app.on('before-quit', (e) => {
  if (quitting || !services) return
  // cancel running jobs cleanly (status 'cancelled', saved data kept) before the process exits
  e.preventDefault()
  quitting = true
  void services.shutdown(3000).finally(() => app.quit())
})

void main()
