import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

// The browser targets run in the system's Chromium (Debian's `chromium` package): playwright-test
// cannot download its own browsers here, and Firefox and WebKit need playwright's own builds.
const chromium = process.env.MUXADO_CHROMIUM ?? '/usr/bin/chromium'

const chromiumArgs = [
  // as root (CI) Chromium refuses to start with its sandbox
  ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  // without these Chromium keeps dialing Google's hosts, which this network refuses
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
]

/**
 * playwright-test always installs its headless shell before a run; an INSTALLATION_COMPLETE marker
 * in the folder of the revision playwright-core expects makes that install a no-op. The folder is
 * the project's own, so a real playwright cache in the home folder is never touched.
 */
function playwrightBrowsersPath () {
  const require = createRequire(import.meta.url)
  const core = path.dirname(require.resolve('playwright-core/package.json'))
  const { browsers } = JSON.parse(fs.readFileSync(path.join(core, 'browsers.json'), 'utf8'))
  const shell = browsers.find((b) => b.name === 'chromium-headless-shell')
  const root = path.resolve('node_modules/.cache/ms-playwright')
  const folder = path.join(root, `chromium_headless_shell-${shell.revision}`)
  fs.mkdirSync(folder, { recursive: true })
  fs.writeFileSync(path.join(folder, 'INSTALLATION_COMPLETE'), '')
  return root
}

/**
 * The Node libp2p node the browser suite dials (test/browser/node-peer.ts), in its own process.
 * It exits when its stdin closes, so it never outlives this one.
 */
async function startNodePeer () {
  const peer = spawn(process.execPath, ['--require', './test/polyfill.mjs', 'dist/test/browser/node-peer.js'], {
    stdio: ['pipe', 'pipe', 'inherit']
  })
  const line = await new Promise((resolve, reject) => {
    let output = ''
    peer.stdout.on('data', (data) => {
      output += data
      if (output.includes('\n')) { resolve(output.slice(0, output.indexOf('\n'))) }
    })
    peer.once('exit', (code) => { reject(new Error(`the Node peer exited with code ${code} before it listened`)) })
  })
  return { peer, multiaddr: JSON.parse(line).multiaddr }
}

/** @type {import('aegir').PartialOptions} */
export default {
  build: {
    bundle: false
  },
  test: {
    browser: {
      // merged into aegir's defaults (which bundle with the 'production' condition)
      config: {
        browserContextOptions: {
          executablePath: chromium,
          args: chromiumArgs
        }
      }
    },
    async before (options) {
      if (options.runner !== 'browser' && options.runner !== 'webworker') { return {} }
      const browsersPath = playwrightBrowsersPath()
      const { peer, multiaddr } = await startNodePeer()
      return { peer, env: { PLAYWRIGHT_BROWSERS_PATH: browsersPath, MUXADO_NODE_PEER: multiaddr } }
    },
    async after (options, before) {
      before?.peer?.stdin.end()
    }
  },
  dependencyCheck: {
    // aegir replaces this list rather than merging it: these folders never ship
    productionIgnorePatterns: ['/benchmark', '/benchmarks', '/dist', '/test', '.aegir.js', '/demo'],
    // test/e2e borrows @libp2p/websockets' own ws on Node 20, which has no global WebSocket;
    // the browser runner reads the revision of the playwright-core that aegir's playwright-test runs
    ignore: ['ws', 'playwright-core']
  }
}
