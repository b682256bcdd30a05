// The desktop shell: a thin Electron window over the same back end as the browser build. It
//   - starts the back end (`iwsft serve`) in a Node child process (backend-process.ts) and opens
//     ONE hardened window on its address: context isolation, sandbox, no Node, the CSP, no
//     request to anything but that address, navigation and new windows blocked, every
//     permission denied, DevTools only when running from source;
//   - answers the preload (src/preload): the token, native dialogs (what the user picks is granted
//     to the back end over the child's IPC channel, which the page cannot reach), and restarting
//     a back end that stopped; only for the page of the exact app origin (the error page for
//     restart), every argument checked;
//   - prints reports to PDF with Electron's printToPDF when the back end asks;
//   - shows a back end that died in the window, with its last log lines and a restart button;
//   - stops the back end when the window closes (running jobs are cancelled and marked so).
// Everything Electron is passed in (`electron`), so the logic runs under Node in tests with a
// stand-in; index.ts passes the real module. This file imports no native module, nor anything
// that does (a test builds the shell and checks).
import type * as Electron from 'electron'
import { basename, join } from 'node:path'
import { PICK_KINDS, type PickKind } from '../../shared/pickers.ts'
import { CHANNELS } from '../../preload/channels.ts'
import { CSP } from '../services/csp.ts'
import { appHome, defaultProjectFile, fileRecentList, type RecentList } from '../services/recent.ts'
import { BackendStartError, NODE_MISSING, type Backend, type BackendOptions } from './backend-process.ts'
import { backendErrorPage, startingPage } from './pages.ts'
import { electronPrinter } from './printer.ts'

export type ShellElectron = Pick<typeof Electron, 'app' | 'BrowserWindow' | 'dialog' | 'ipcMain' | 'Menu' | 'session' | 'shell' | 'nativeTheme'>

/** Hosts whose https pages a link in the app may open in the system browser; any other link is refused. */
export const DOC_HOSTS = new Set(['arxiv.org', 'nodejs.org', 'github.com', 'www.electronjs.org'])

const IMPORT_EXTENSIONS = ['jsonl', 'ndjson', 'csv', 'parquet', 'h5', 'hdf5', 'json']

export interface ShellOptions {
  /** the app's folder (bin/iwsft.mjs, out/preload) */
  root: string
  /** the built preload script */
  preload: string
  /** the command line after Electron's own arguments (`--project FILE`) */
  argv: string[]
  /** the Node that runs the back end (backend-process.ts findNode) */
  findNode(): string | null
  startBackend(opts: BackendOptions): Promise<Backend>
  recent?: RecentList
  /** the back end's own output, echoed (default: this process's stderr) */
  log?(line: string): void
}

export interface Shell {
  /** the running back end, if any */
  backend(): Backend | null
  window(): Electron.BrowserWindow | null
  /** resolves once the window shows the app or the error page */
  ready: Promise<void>
}

/** `--project FILE` (or `--project=FILE`) from the command line. */
export function projectArg(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--project' && argv[i + 1]) return argv[i + 1]
    if (argv[i].startsWith('--project=')) return argv[i].slice('--project='.length)
  }
  return undefined
}

export function runShell(electron: ShellElectron, opts: ShellOptions): Shell {
  const { app, BrowserWindow, dialog, ipcMain, Menu, session, shell, nativeTheme } = electron
  const recent = opts.recent ?? fileRecentList()
  const dev = !app.isPackaged
  const log = opts.log ?? ((l: string) => process.stderr.write(`[back end] ${l}\n`))
  let backend: Backend | null = null
  let win: Electron.BrowserWindow | null = null
  /** the page the window shows when it is not the app (the error page), for the restart's sender check */
  let shellPage: string | null = null
  let quitting = false
  let starting: Promise<void> | null = null
  const explicitProject = projectArg(opts.argv)

  const appOrigin = (): string | null => (backend?.running() ? backend.info.origin : null)

  /** The sender is the top frame of our window showing the app itself (exact origin). */
  const fromApp = (e: Electron.IpcMainInvokeEvent): boolean => {
    const frame = e.senderFrame
    const origin = appOrigin()
    if (!frame || frame.parent || !origin || !win || e.sender !== win.webContents) return false
    try {
      return new URL(frame.url).origin === origin
    } catch {
      return false
    }
  }
  const fromShellPage = (e: Electron.IpcMainInvokeEvent): boolean =>
    !!win && e.sender === win.webContents && !!e.senderFrame && !e.senderFrame.parent && shellPage !== null && e.senderFrame.url === shellPage

  const show = async (url: string, isShellPage: boolean): Promise<void> => {
    shellPage = isShellPage ? url : null
    if (!win || win.isDestroyed()) return
    await win.loadURL(url).catch((e: unknown) => log(`the window could not load ${isShellPage ? 'its page' : url}: ${e instanceof Error ? e.message : String(e)}`))
  }

  const showError = async (message: string, lines: string[]): Promise<void> => {
    await show(backendErrorPage({ message, lines }), true)
  }

  /** Start the back end on `project` (default: the one asked for, else the last used, else the
   *  default project) and show the app; on failure, the error page. */
  const start = (): Promise<void> => {
    starting ??= (async () => {
      const node = opts.findNode()
      if (!node) return showError(NODE_MISSING, [])
      const project = explicitProject ?? recent.list()[0] ?? defaultProjectFile()
      await show(startingPage(project), true)
      try {
        backend = await opts.startBackend({
          node,
          root: opts.root,
          project,
          print: electronPrinter(electron),
          onLog: log,
          onExit: ({ code, signal, lines }) => {
            if (quitting) return
            void showError(`The back end stopped unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`}).`, lines)
          }
        })
      } catch (e) {
        backend = null
        const lines = e instanceof BackendStartError ? e.lines : []
        return showError(`The back end could not start for ${project}: ${e instanceof Error ? e.message : String(e)}`, lines)
      }
      await show(`${backend.info.origin}/`, false)
      buildMenu()
    })().finally(() => (starting = null))
    return starting
  }

  // ------------------------------------------------------------------------- hardening

  const harden = (): void => {
    const ses = session.defaultSession
    ses.setPermissionRequestHandler((_wc, _perm, cb) => cb(false))
    ses.setPermissionCheckHandler(() => false)
    // nothing but the back end's own address (http and ws), the shell's data: pages and, from source, DevTools
    ses.webRequest.onBeforeRequest((details, cb) => {
      const u = details.url
      const origin = appOrigin()
      let ok = u.startsWith('data:') || (dev && u.startsWith('devtools://'))
      if (!ok && origin) {
        try {
          const o = new URL(u)
          ok = o.origin === origin || (o.protocol === 'ws:' && `http://${o.host}` === origin)
        } catch {
          ok = false
        }
      }
      cb({ cancel: !ok })
    })
    ses.webRequest.onHeadersReceived((details, cb) => {
      cb({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } })
    })
    app.on('web-contents-created', (_e, contents) => {
      contents.on('will-navigate', (ev) => ev.preventDefault())
      contents.on('will-redirect', (ev) => ev.preventDefault())
      contents.on('will-attach-webview', (ev) => ev.preventDefault())
      contents.setWindowOpenHandler(({ url }) => {
        // a documentation link opens in the system browser; nothing opens in the app
        if (externalAllowed(url)) void shell.openExternal(url)
        return { action: 'deny' }
      })
    })
  }

  const createWindow = (): Electron.BrowserWindow => {
    const w = new BrowserWindow({
      width: 1440,
      height: 900,
      minWidth: 1100,
      minHeight: 700,
      show: false,
      title: 'IW-SFT Workbench',
      backgroundColor: nativeTheme.shouldUseDarkColors ? '#16181d' : '#f6f7f9',
      webPreferences: {
        preload: opts.preload,
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        nodeIntegrationInSubFrames: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        webviewTag: false,
        spellcheck: false,
        devTools: dev
      }
    })
    w.once('ready-to-show', () => w.show())
    w.on('focus', () => buildMenu()) // the recent list may have changed from the page
    w.on('closed', () => {
      win = null
      app.quit()
    })
    return w
  }

  // ------------------------------------------------------------------------- dialogs and menu

  /** A native dialog; what the user picked is granted to the back end before it is returned. */
  const pick = async (kind: PickKind): Promise<string | null> => {
    const parent = win ?? undefined
    let picked: string | null
    if (kind === 'dataset' || kind === 'project-open' || kind === 'folder') {
      const o: Electron.OpenDialogOptions =
        kind === 'dataset'
          ? {
              title: 'Choose a file',
              properties: ['openFile'],
              filters: [
                { name: 'Trace datasets', extensions: IMPORT_EXTENSIONS },
                { name: 'All files', extensions: ['*'] }
              ]
            }
          : kind === 'project-open'
            ? { title: 'Open a project', properties: ['openFile'], filters: [{ name: 'IW-SFT projects', extensions: ['iwsft', 'sqlite'] }] }
            : { title: 'Choose a folder', properties: ['openDirectory', 'createDirectory'] }
      const r = parent ? await dialog.showOpenDialog(parent, o) : await dialog.showOpenDialog(o)
      picked = r.canceled ? null : (r.filePaths[0] ?? null)
    } else {
      const ext = kind === 'project-new' ? 'iwsft' : kind.slice('report-'.length)
      const name = { iwsft: 'IW-SFT project', html: 'HTML report', md: 'Markdown report', pdf: 'PDF report' }[ext] ?? ext
      const defaultPath = kind === 'project-new' ? join(appHome(), 'untitled.iwsft') : join(app.getPath('documents'), `iwsft-report.${ext}`)
      const o: Electron.SaveDialogOptions = { title: kind === 'project-new' ? 'New project' : `Save the ${name}`, defaultPath, filters: [{ name, extensions: [ext] }] }
      const r = parent ? await dialog.showSaveDialog(parent, o) : await dialog.showSaveDialog(o)
      picked = r.canceled ? null : (r.filePath ?? null)
    }
    if (!picked) return null
    if (!backend) throw new Error('the back end is not running')
    await backend.grant(picked, kind === 'folder' ? 'dir' : 'file')
    return picked
  }

  /** A request to the back end from the shell itself (the menu): HTTP with the token, like the page. */
  const request = async (name: string, input: unknown): Promise<unknown> => {
    if (!backend?.running()) throw new Error('the back end is not running')
    const res = await fetch(`${backend.info.origin}/api/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${backend.info.token}` },
      body: JSON.stringify(input)
    })
    const body = (await res.json()) as { ok: boolean; value?: unknown; error?: { message: string } }
    if (!body.ok) throw new Error(body.error?.message ?? `${name} failed (${res.status})`)
    return body.value
  }

  const openProject = async (file: string, create: boolean): Promise<void> => {
    try {
      await backend?.grant(file, 'file')
      await request('project.open', { file, create })
    } catch (e) {
      dialog.showErrorBox('Could not open the project', e instanceof Error ? e.message : String(e))
    }
    buildMenu()
  }

  const buildMenu = (): void => {
    const isMac = process.platform === 'darwin'
    const recentItems: Electron.MenuItemConstructorOptions[] = recent.list().map((f) => ({ label: basename(f), sublabel: f, click: () => openProject(f, false) }))
    const template: Electron.MenuItemConstructorOptions[] = [
      ...(isMac ? [{ role: 'appMenu' as const }] : []),
      {
        label: 'File',
        submenu: [
          {
            label: 'New Project…',
            accelerator: 'CmdOrCtrl+Shift+N',
            click: async () => {
              const f = await pick('project-new').catch(() => null)
              if (f) await openProject(f, true)
            }
          },
          {
            label: 'Open Project…',
            accelerator: 'CmdOrCtrl+O',
            click: async () => {
              const f = await pick('project-open').catch(() => null)
              if (f) await openProject(f, false)
            }
          },
          { label: 'Open Recent', submenu: recentItems.length ? recentItems : [{ label: 'No recent projects', enabled: false }] },
          { type: 'separator' },
          {
            label: 'Import Dataset…',
            accelerator: 'CmdOrCtrl+I',
            click: async () => {
              const f = await pick('dataset').catch(() => null)
              if (!f) return
              try {
                await request('datasets.import', { path: f, importId: `menu-${Date.now()}` })
              } catch (e) {
                dialog.showErrorBox(`Could not import ${basename(f)}`, e instanceof Error ? e.message : String(e))
              }
            }
          },
          { type: 'separator' },
          isMac ? { role: 'close' } : { role: 'quit' }
        ]
      },
      { role: 'editMenu' },
      {
        label: 'View',
        submenu: [
          { role: 'reload' },
          // DevTools only when running from source, never in a packaged app
          ...(dev ? [{ role: 'toggleDevTools' as const }] : []),
          { type: 'separator' },
          { role: 'resetZoom' },
          { role: 'zoomIn' },
          { role: 'zoomOut' },
          { type: 'separator' },
          { role: 'togglefullscreen' }
        ]
      },
      { role: 'windowMenu' }
    ]
    Menu.setApplicationMenu(Menu.buildFromTemplate(template))
  }

  // ------------------------------------------------------------------------- the preload's requests

  const wireIpc = (): void => {
    ipcMain.handle(CHANNELS.token, (e) => {
      if (!fromApp(e)) throw new Error('refused: the token is only for the app’s own page')
      return backend!.info.token
    })
    ipcMain.handle(CHANNELS.pick, async (e, kind: unknown) => {
      if (!fromApp(e) || typeof kind !== 'string' || !PICK_KINDS.includes(kind)) return null
      return pick(kind as PickKind)
    })
    ipcMain.handle(CHANNELS.restart, async (e) => {
      if (!fromShellPage(e) || backend?.running()) return
      await start()
    })
  }

  // ------------------------------------------------------------------------- life cycle

  let resolveReady!: () => void
  const ready = new Promise<void>((r) => (resolveReady = r))

  if (!app.requestSingleInstanceLock()) {
    // a second `npm start`: the first app's window comes to the front (second-instance, below)
    process.stderr.write('IW-SFT Workbench is already running: its window is brought to the front.\n')
    app.quit()
    resolveReady()
    return { backend: () => null, window: () => null, ready }
  }
  app.on('second-instance', () => {
    if (!win) return
    if (win.isMinimized()) win.restore()
    win.focus()
  })
  app.on('window-all-closed', () => app.quit())
  let stopping: Promise<void> | null = null
  let stopped = false
  app.on('before-quit', (e) => {
    quitting = true
    if (stopped || !backend?.running()) return
    // stop the back end first: its running jobs are cancelled (status 'cancelled', saved data
    // kept); every quit asked for meanwhile waits for it
    e.preventDefault()
    stopping ??= backend.stop().finally(() => {
      stopped = true
      app.quit()
    })
  })

  void app.whenReady().then(async () => {
    harden()
    wireIpc()
    buildMenu()
    win = createWindow()
    await start()
    resolveReady()
  })

  return { backend: () => backend, window: () => win, ready }
}

/** https links to the documentation hosts only. */
export function externalAllowed(url: string): boolean {
  try {
    const u = new URL(url)
    return u.protocol === 'https:' && DOC_HOSTS.has(u.hostname) && !u.username && !u.password
  } catch {
    return false
  }
}
