/**
 * A libp2p node in its own OS process, for process.spec.ts: TCP + Noise + muxado, answering the
 * e2e echo protocol. Run it as `node --import <polyfill> dist/test/e2e/peer-process.js`.
 *
 * stdout carries one JSON object per line: `{ event: 'listening', peerId, multiaddrs }` once,
 * then `{ event: 'connection', remotePeer, multiplexer, encryption }` for every connection. The
 * node stops and the process exits when stdin closes, so it never outlives its parent.
 */
import { createNode } from './helpers.ts'

function report (message: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(message)}\n`)
}

const node = await createNode()

node.addEventListener('connection:open', (evt) => {
  const connection = evt.detail
  report({ event: 'connection', remotePeer: connection.remotePeer.toString(), multiplexer: connection.multiplexer, encryption: connection.encryption })
})

report({ event: 'listening', peerId: node.peerId.toString(), multiaddrs: node.getMultiaddrs().map(ma => ma.toString()) })

let stopping = false
async function stop (): Promise<void> {
  if (stopping) { return }
  stopping = true
  await node.stop()
  process.exit(0)
}

process.stdin.on('end', () => { void stop() })
process.stdin.on('error', () => { void stop() })
process.stdin.resume()
process.on('SIGTERM', () => { void stop() })
