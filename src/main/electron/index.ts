// The desktop app's entry (Electron's main process): the shell (shell.ts) with the real
// `electron` module. It loads no native module and no back-end code: the back end runs in a
// Node child process (backend-process.ts), and the window talks to it over HTTP + WebSocket.
import * as electron from 'electron'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { findNode, startBackend } from './backend-process.ts'
import { runShell } from './shell.ts'

const HERE = dirname(fileURLToPath(import.meta.url))
// out/main/index.js → the app's folder (where bin/iwsft.mjs is)
const ROOT = resolve(HERE, '..', '..')

function preloadPath(): string {
  for (const f of ['index.cjs', 'index.js', 'index.mjs']) {
    const p = join(HERE, '..', 'preload', f)
    if (existsSync(p)) return p
  }
  return join(HERE, '..', 'preload', 'index.js')
}

runShell(electron, { root: ROOT, preload: preloadPath(), argv: process.argv.slice(2), findNode: () => findNode(), startBackend })
