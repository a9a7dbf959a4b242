/**
 * The Node side of the browser suite: a libp2p node on WebSockets + Noise + muxado with identify
 * and ping, answering ECHO and REPORT (`protocols.ts`). `.aegir.js` starts it before the browser
 * and webworker runs as `node --require ./test/polyfill.mjs dist/test/browser/node-peer.js`; it
 * prints `{ "multiaddr": … }` on one line once listening and exits when stdin closes.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { muxado } from '../../src/index.ts'
import { STREAM_LIMITS } from '../e2e/helpers.ts'
import { echoStream } from '../helpers/streams.ts'
import { ECHO, REPORT } from './protocols.ts'
import type { ConnectionReport, StreamReport } from './protocols.ts'
import type { Connection, Stream } from '@libp2p/interface'

interface Tracked extends ConnectionReport {
  remotePeer: string
  closed: boolean
}

/** By connection id, until a report has listed them */
const tracked = new Map<string, Tracked>()

function track (connection: Connection): Tracked {
  let entry = tracked.get(connection.id)
  if (entry == null) {
    entry = { remotePeer: connection.remotePeer.toString(), multiplexer: connection.multiplexer, streams: [], openStreams: 0, closed: false }
    tracked.set(connection.id, entry)
  }
  return entry
}

function recordStream (stream: Stream, connection: Connection): void {
  const report: StreamReport = { closed: false }
  track(connection).streams.push(report)
  stream.addEventListener('close', (evt) => {
    report.closed = true
    if (evt.error != null) { report.error = evt.error.name }
  })
}

/** The asking peer's other connections, once all of them have closed here (or after 5 s) */
async function closedConnectionsOf (asking: Connection): Promise<ConnectionReport[]> {
  // the connection asking is only for reports: it is in none
  tracked.delete(asking.id)
  const others = (): Tracked[] => [...tracked.entries()]
    .filter(([id, entry]) => id !== asking.id && entry.remotePeer === asking.remotePeer.toString())
    .map(([, entry]) => entry)
  const deadline = Date.now() + 5000
  while (others().some(entry => !entry.closed) && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  const reports = others().filter(entry => entry.closed)
  for (const [id, entry] of tracked) { if (reports.includes(entry)) { tracked.delete(id) } }
  return reports.map(({ multiplexer, streams, openStreams }) => ({ multiplexer, streams, openStreams }))
}

const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0/ws'] },
  transports: [webSockets()],
  connectionEncrypters: [noise()],
  streamMuxers: [muxado()],
  services: { identify: identify(), ping: ping() }
})

node.addEventListener('connection:open', (evt) => { track(evt.detail) })
node.addEventListener('connection:close', (evt) => {
  const entry = tracked.get(evt.detail.id)
  if (entry == null) { return }
  entry.closed = true
  entry.openStreams = evt.detail.streams.length
})

await node.handle(ECHO, async (stream, connection) => {
  recordStream(stream, connection)
  await echoStream(stream)
}, STREAM_LIMITS)

await node.handle(REPORT, async (stream, connection) => {
  stream.send(new TextEncoder().encode(JSON.stringify(await closedConnectionsOf(connection))))
  await stream.close()
})

process.stdout.write(`${JSON.stringify({ multiaddr: node.getMultiaddrs()[0].toString() })}\n`)

async function stop (): Promise<void> {
  await node.stop()
  process.exit(0)
}
process.stdin.on('end', () => { void stop() })
process.stdin.resume()
