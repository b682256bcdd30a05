#!/usr/bin/env node
// `npm start`: the desktop app where the Electron binary is installed: electron-vite builds the
// shell, its preload and the renderer, then Electron opens one window while the back end
// (`iwsft serve`) runs in a child process under this Node (npm's, npm_node_execpath), never in
// Electron. Elsewhere (e.g. installed with ELECTRON_SKIP_BINARY_DOWNLOAD=1) the browser build:
// the same back end, whose URL (with its token after #) is printed and opened.
// Extra arguments: --project FILE for both; the browser build also takes `iwsft serve`'s
// (--port N, --allow-dir DIR, --no-open, …).
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

function electronBinary() {
  try {
    const p = require('electron') // in Node this is the path of the binary, if it was downloaded
    return typeof p === 'string' && existsSync(p) ? p : null
  } catch {
    return null // "Electron failed to install correctly": no binary here
  }
}

function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: 'inherit', ...opts })
    const forward = (sig) => child.kill(sig)
    process.on('SIGINT', forward)
    process.on('SIGTERM', forward)
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward)
      process.off('SIGTERM', forward)
      resolve(code ?? (signal ? 0 : 1))
    })
    child.on('error', (e) => {
      process.stderr.write(`npm start: could not run ${cmd}: ${e.message}\n`)
      resolve(1)
    })
  })
}

const electron = electronBinary()
const args = process.argv.slice(2)
if (electron) {
  process.stdout.write('npm start: building the desktop app (electron-vite build) …\n')
  const built = await run(process.execPath, [join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'])
  if (built !== 0) process.exit(built)
  process.exit(await run(electron, ['.', ...args]))
} else {
  process.stdout.write('npm start: the Electron binary is not installed here, so the workbench starts as a browser build.\n')
  process.exit(await run(process.execPath, [join(root, 'bin', 'iwsft.mjs'), 'serve', ...args]))
}
