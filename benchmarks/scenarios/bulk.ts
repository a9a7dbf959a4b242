/**
 * Scenario: bulk throughput on one stream. The sender writes `total` bytes in 64 KiB sends with a
 * strict writer; the clock stops when the receiver has counted them all. Baselines in the same
 * rotation: bare `node:net` sockets (TCP only), the connection with no muxer, and the connection
 * carrying muxado's frames with no muxer around them.
 */
import { FRESH_COPIES, profileTransport } from '../../src/transport.ts'
import { ConnectionWriter } from '../../src/writer.ts'
import { MEMORY_TRAFFIC_METRICS, runRotated, startClock } from '../harness.ts'
import { readBytes, readSocket, writeSocket, writeStrict } from '../io.ts'
import { MUXERS, MUXER_NOTE, closeMuxerPair, muxerLabel, muxerPair } from '../muxers.ts'
import { closeConnPair, connPair } from '../pairs.ts'
import type { Elapsed, MetricDef, Metrics, ScenarioResult } from '../harness.ts'
import type { MuxerName, MuxerUnderTest } from '../muxers.ts'
import type { LoopbackServer, TransportName } from '../pairs.ts'
import type { Stream } from '@libp2p/interface'

export const CHUNK = 64 * 1024
const MiB = 1024 * 1024

export interface BulkOptions {
  transport: TransportName
  server: LoopbackServer
  total: number
  reps: number
}

/** How fast the bytes moved, and at what CPU cost */
export const RATE_METRICS: MetricDef[] = [
  { key: 'mbps', label: 'MB/s', unit: 'MB/s', better: 'higher' },
  { key: 'mbcpu', label: 'MB per CPU-s', unit: 'MB/CPU-s', better: 'higher' }
]

/** The metrics of every bulk scenario */
export const THROUGHPUT_METRICS: MetricDef[] = [...RATE_METRICS, ...MEMORY_TRAFFIC_METRICS]

/** Throughput, and the memory traffic behind it, of moving `total` bytes in `t` */
export function rates (total: number, t: Elapsed): Metrics {
  const mib = total / MiB
  return {
    mbps: total / 1e3 / t.ms,
    mbcpu: total / 1e3 / t.cpuMs,
    ms: t.ms,
    faultsPerMiB: t.minorFaults / mib,
    gcMsPerMiB: t.gcMs / mib,
    majorGcsPer64MiB: t.majorGcs / (mib / 64)
  }
}

/** The bare-socket baseline: the same writes on two `node:net` sockets, no libp2p */
export async function runNet (server: LoopbackServer, chunk: Uint8Array, total: number): Promise<Metrics> {
  const { client, server: remote } = await server.connect()
  const stop = startClock()
  await Promise.all([writeSocket(client, chunk, total), readSocket(remote, total)])
  const t = stop()
  client.destroy()
  remote.destroy()
  return rates(total, t)
}

async function runMaConn (opts: BulkOptions, chunk: Uint8Array): Promise<Metrics> {
  const conns = await connPair(opts.transport, opts.server)
  const stop = startClock()
  await Promise.all([writeStrict(conns.client, chunk, opts.total), readBytes(conns.server, opts.total)])
  const t = stop()
  await closeConnPair(conns)
  return rates(opts.total, t)
}

/**
 * The framing baseline: muxado's own writer puts the same sends on the bare connection as v1 DATA
 * frames of one stream, and the other end only counts bytes. No session, streams, flow control or
 * decoding: what the frames alone cost this connection, sent the way muxado sends them, and so
 * the most a muxer sending them that way could reach (over memlite, each piece of a batch is an
 * event of its own). `copied` sends them the other way a sender can: copied into one piece.
 */
async function runFraming (opts: BulkOptions, chunk: Uint8Array, copied = false): Promise<Metrics> {
  const conns = await connPair(opts.transport, opts.server)
  const connection = conns.client
  const writer = new ConnectionWriter({
    send: (data) => connection.send(data),
    transport: copied ? FRESH_COPIES : profileTransport(connection),
    onStall: () => {},
    writeTimeout: 10_000,
    log: connection.log
  })
  const stop = startClock()
  const send = (buf: Uint8Array): void => { writer.enqueueData(1, buf, buf.byteLength) }
  await Promise.all([writeStrict(connection, chunk, opts.total, { send }), readBytes(conns.server, opts.total)])
  const t = stop()
  writer.end()
  await closeConnPair(conns)
  return rates(opts.total, t)
}

/** One bulk transfer through a fresh muxer pair; also the workload of the CPU-profile entry point */
export async function bulkOnce (opts: BulkOptions, muxer: MuxerUnderTest, chunk: Uint8Array, issues: string[]): Promise<Metrics> {
  const conns = await connPair(opts.transport, opts.server)
  const muxers = muxerPair(muxer, conns)
  const received = new Promise<void>((resolve, reject) => {
    muxers.server.addEventListener('stream', evt => {
      readBytes(evt.detail, opts.total).then(resolve, reject)
    }, { once: true })
  })
  const stop = startClock()
  const stream: Stream = await muxers.client.createStream()
  await Promise.all([writeStrict(stream, chunk, opts.total), received])
  const t = stop()
  if (!await closeMuxerPair(muxers)) { issues.push(`${muxerLabel(muxer)}: graceful close timed out after a bulk run`) }
  await closeConnPair(conns)
  return rates(opts.total, t)
}

const TRANSPORT_NOTES: Record<TransportName, string> = {
  tcp: 'net = bare node:net sockets (no libp2p); maconn = the same sockets wrapped by @libp2p/tcp toMultiaddrConnection, no muxer',
  memlite: 'memlite = in-memory AbstractMultiaddrConnection pair, one-microtask delivery, each piece of a send as its own event, backpressure at 1 MiB in flight; maconn = that pair, no muxer',
  memwhole: 'memwhole = the memlite pair delivering each send whole, as one event, as @libp2p/memory does; maconn = that pair, no muxer'
}

/** What the baselines beyond the connection itself (TRANSPORT_NOTES) are */
const FRAMING_NOTES: Record<string, string> = {
  framing: 'framing = muxado\'s writer putting the same sends on that connection as v1 DATA frames, nothing decoded: the frames\' own cost, with no muxer work',
  'framing-copied': 'framing-copied = the same, each batch copied into fresh memory and sent as one piece: the other way to send v1 frames, with no muxer work'
}

const BASELINES: Record<TransportName, string[]> = {
  tcp: ['net', 'maconn', 'framing'],
  // each piece is an event here: copying the frames into one piece is the alternative to views
  memlite: ['maconn', 'framing', 'framing-copied'],
  memwhole: ['maconn', 'framing']
}

export async function bulk (opts: BulkOptions): Promise<ScenarioResult> {
  const chunk = new Uint8Array(CHUNK).fill(7)
  const baselines = BASELINES[opts.transport]
  return runRotated({
    id: `bulk-${opts.transport}`,
    title: `Bulk, one stream, ${opts.total / MiB} MiB in 64 KiB sends, ${opts.transport}`,
    short: `bulk 1 stream, ${opts.transport}`,
    notes: [
      'strict writer: re-checks writableNeedsDrain before every send, waits for drain with pEvent(stream, \'drain\', { rejectionEvents: [\'close\'] })',
      TRANSPORT_NOTES[opts.transport],
      ...baselines.flatMap(b => FRAMING_NOTES[b] ?? []),
      'MB per CPU-s counts the whole process (both ends)',
      MUXER_NOTE
    ],
    variants: [...MUXERS, ...baselines],
    reps: opts.reps,
    metrics: THROUGHPUT_METRICS,
    headline: ['mbps'],
    run: async (variant, issues) => {
      if (variant === 'net') { return runNet(opts.server, chunk, opts.total) }
      if (variant === 'maconn') { return runMaConn(opts, chunk) }
      if (variant === 'framing') { return runFraming(opts, chunk) }
      if (variant === 'framing-copied') { return runFraming(opts, chunk, true) }
      return bulkOnce(opts, variant as MuxerName, chunk, issues)
    }
  })
}
