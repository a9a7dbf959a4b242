/**
 * libp2p-muxado demo: two libp2p nodes in one process, connected over TCP + Noise, multiplexed
 * with muxado. A few hundred streams echo data concurrently over the one connection.
 *
 * Run it with `npm run demo` (it builds first), or `node dist/demo/demo.js` after a build.
 */
// libp2p v3 calls Promise.withResolvers, which Node 20 lacks: load the polyfill before libp2p
import '../test/polyfill.mjs'
import { randomBytes } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { pEvent } from 'p-event'
import { muxado, muxadoSession } from '../src/index.ts'
import type { MuxadoMuxer } from '../src/index.ts'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'

const ECHO = '/demo/echo/1.0.0'
const STREAMS = 256
const BYTES_PER_STREAM = 256 * 1024
const CHUNK = 64 * 1024
/** libp2p allows 32 inbound and 64 outbound streams per protocol and connection by default */
const LIMITS = { maxInboundStreams: STREAMS * 2, maxOutboundStreams: STREAMS * 2 }

/** The demo's output: plain lines on stdout */
function print (line = ''): void {
  process.stdout.write(`${line}\n`)
}

const MiB = 1024 * 1024
const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`
const short = (id: string): string => `${id.slice(0, 8)}…${id.slice(-4)}`

async function createNode (): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    // muxado pings every 3 s by default; every 500 ms shows the round trip while the echo runs
    streamMuxers: [muxado({ heartbeatInterval: 500 })]
  })
}

function describeRtt (muxer?: MuxadoMuxer): string {
  const rtt = muxer?.rtt
  if (rtt == null) { return 'not measured yet' }
  return formatMs(rtt)
}

function formatMs (ms: number): string {
  return `${ms.toFixed(ms < 10 ? 2 : 0)} ms`
}

/** Send with backpressure: `send()` returns false when muxado's window or the socket is full */
async function write (stream: Stream, data: Uint8Array): Promise<void> {
  if (!stream.send(data)) {
    await pEvent(stream, 'drain', { rejectionEvents: ['close'] })
  }
}

async function echoHandler (stream: Stream): Promise<void> {
  for await (const chunk of stream) { await write(stream, chunk.subarray()) }
  await stream.close()
}

const stats = { streamsDone: 0, bytesEchoed: 0, peakStreams: 0, rttSamples: new Set<number>() }

/** One stream: send the payload, half-close, and check every echoed byte as it comes back */
async function echoOnce (dialer: Libp2p, listener: Libp2p, payload: Uint8Array): Promise<void> {
  const stream = await dialer.dialProtocol(listener.peerId, ECHO, LIMITS)
  const check = (async () => {
    let offset = 0
    for await (const chunk of stream) {
      const bytes = chunk.subarray()
      if (!Buffer.from(bytes).equals(payload.subarray(offset, offset + bytes.byteLength))) {
        throw new Error(`stream ${stream.id}: echoed bytes differ at offset ${offset}`)
      }
      offset += bytes.byteLength
      stats.bytesEchoed += bytes.byteLength
    }
    if (offset !== payload.byteLength) {
      throw new Error(`stream ${stream.id}: ${offset} of ${payload.byteLength} bytes came back`)
    }
  })()
  for (let offset = 0; offset < payload.byteLength; offset += CHUNK) {
    await write(stream, payload.subarray(offset, offset + CHUNK))
  }
  await stream.close()
  await check
  stats.streamsDone++
}

function progressLine (elapsed: number, total: number): string {
  const done = Math.round((stats.bytesEchoed / total) * 20)
  return `  [${'#'.repeat(done)}${'.'.repeat(20 - done)}] ${stats.streamsDone}/${STREAMS} streams done, ${mib(stats.bytesEchoed)} echoed, ${secs(elapsed)}`
}

async function main (): Promise<void> {
  print('libp2p-muxado demo: two libp2p nodes in one process, TCP + Noise + muxado\n')

  const [listener, dialer] = await Promise.all([createNode(), createNode()])
  await listener.handle(ECHO, echoHandler, LIMITS)
  const address = listener.getMultiaddrs()[0].toString().replace(/\/p2p\/.*$/, '')
  print(`  listener  ${short(listener.peerId.toString())}  ${address}`)
  print(`  dialer    ${short(dialer.peerId.toString())}`)

  const started = performance.now()
  const inbound = pEvent<'connection:open', CustomEvent<Connection>>(listener, 'connection:open')
  const connection = await dialer.dial(listener.getMultiaddrs())
  const listenerSide = (await inbound).detail
  const agree = connection.multiplexer === listenerSide.multiplexer ? 'both sides agree' : `but the listener runs ${listenerSide.multiplexer}`
  print(`  connected in ${(performance.now() - started).toFixed(0)} ms: encryption ${connection.encryption}, muxer ${connection.multiplexer} (${agree})`)

  // muxado pings its peer as soon as the session starts, while both nodes are still busy setting
  // up; the next ping, 500 ms later, shows the round trip of an idle connection
  const muxer = muxadoSession(connection)
  await new Promise(resolve => setTimeout(resolve, 600))
  print(`  heartbeat RTT, idle: ${describeRtt(muxer)}\n`)

  const total = STREAMS * BYTES_PER_STREAM
  print(`echo: ${STREAMS} concurrent streams × ${BYTES_PER_STREAM / 1024} KiB, all on that one connection`)
  const payload = randomBytes(BYTES_PER_STREAM)
  const begin = performance.now()
  const tty = process.stdout.isTTY === true
  let lastPrinted = begin
  const progress = setInterval(() => {
    stats.peakStreams = Math.max(stats.peakStreams, connection.streams.length)
    if (muxer?.rtt != null) { stats.rttSamples.add(muxer.rtt) }
    const now = performance.now()
    // progress only for a run that lasts longer than a second; once a second without a terminal
    if (now - begin < 1000 || (!tty && now - lastPrinted < 1000)) { return }
    lastPrinted = now
    if (tty) { process.stdout.write(`\r${progressLine(now - begin, total)}`) } else { print(progressLine(now - begin, total)) }
  }, 100)
  try {
    await Promise.all(Array.from({ length: STREAMS }, async () => echoOnce(dialer, listener, payload)))
  } finally {
    clearInterval(progress)
  }
  const elapsed = performance.now() - begin
  if (tty && elapsed >= 1000) { process.stdout.write(`\r${progressLine(elapsed, total)}\n`) }

  const perSecond = total / (elapsed / 1000)
  print(`  done: ${STREAMS} streams, ${mib(total)} sent and ${mib(stats.bytesEchoed)} echoed back intact in ${secs(elapsed)}`)
  print(`  throughput: ${mib(perSecond)}/s each way, ${mib(perSecond * 2)}/s through the muxer`)
  print(`  open streams at the peak: ${stats.peakStreams}, now: ${connection.streams.length}`)
  const rtts = [...stats.rttSamples]
  if (rtts.length > 0) { print(`  heartbeat RTT under load: ${formatMs(Math.min(...rtts))} to ${formatMs(Math.max(...rtts))} (pings queue behind the data)`) }

  await Promise.all([dialer.stop(), listener.stop()])
  print('\nstopped both nodes, bye')
}

main().catch((err) => {
  process.stderr.write(`demo failed: ${err.stack ?? err}\n`)
  process.exitCode = 1
})
