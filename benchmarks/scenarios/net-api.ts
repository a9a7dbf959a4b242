/**
 * Scenario: bulk on one stream through `libp2p-muxado/net` (no libp2p): the same loopback
 * sockets as the TCP scenarios, wrapped by the package's own socket connection, which writes a
 * session's batch with one `writev` so frames leave uncopied. yamux and mplex have no such API;
 * the bare socket is the reference.
 */
import { createSession } from '../../src/net/index.ts'
import { runRotated, startClock } from '../harness.ts'
import { readBytes, writeStrict } from '../io.ts'
import { CHUNK, THROUGHPUT_METRICS, rates, runNet } from './bulk.ts'
import type { Metrics, ScenarioResult } from '../harness.ts'
import type { LoopbackServer } from '../pairs.ts'

const MiB = 1024 * 1024

export interface NetApiBulkOptions {
  server: LoopbackServer
  total: number
  reps: number
}

async function runSession (opts: NetApiBulkOptions, chunk: Uint8Array): Promise<Metrics> {
  const sockets = await opts.server.connect()
  const client = createSession(sockets.client, { role: 'client', enableHeartbeat: false })
  const server = createSession(sockets.server, { role: 'server', enableHeartbeat: false })
  const received = new Promise<void>((resolve, reject) => {
    server.muxer.addEventListener('stream', evt => { readBytes(evt.detail, opts.total).then(resolve, reject) }, { once: true })
  })
  const stop = startClock()
  const stream = await client.muxer.createStream()
  await Promise.all([writeStrict(stream, chunk, opts.total), received])
  const t = stop()
  await Promise.all([client.close(), server.close()])
  return rates(opts.total, t)
}

export async function bulkNetApi (opts: NetApiBulkOptions): Promise<ScenarioResult> {
  const chunk = new Uint8Array(CHUNK).fill(7)
  return runRotated({
    id: 'bulk-net-api',
    title: `Bulk, one stream, ${opts.total / MiB} MiB in 64 KiB sends, libp2p-muxado/net over tcp`,
    short: 'bulk 1 stream, muxado/net',
    notes: [
      'muxado = createSession() on both loopback sockets, one stream of the session\'s muxer, the strict writer of the other bulk scenarios',
      'net = the bare sockets, same 64 KiB writes; yamux and mplex have no API without libp2p'
    ],
    variants: ['muxado', 'net'],
    reps: opts.reps,
    metrics: THROUGHPUT_METRICS,
    headline: ['mbps'],
    run: async (variant) => variant === 'net' ? runNet(opts.server, chunk, opts.total) : runSession(opts, chunk)
  })
}
