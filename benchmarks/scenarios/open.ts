/**
 * Scenario: stream open rate. `inFlight` workers share a counter up to `total`; each opens a
 * stream, sends 32 B, half-closes, and waits for the 32 B echo and the stream's 'close' (the
 * listener echoes and closes when the remote does). Latency runs from `createStream()` to 'close',
 * so it includes queueing behind the other workers.
 */
import { runRotated, startClock } from '../harness.ts'
import { echo, readBytes } from '../io.ts'
import { MUXERS, MUXER_NOTE, closeMuxerPair, muxerLabel, muxerPair } from '../muxers.ts'
import { closeConnPair, connPair } from '../pairs.ts'
import { percentile } from '../stats.ts'
import type { Metrics, ScenarioResult } from '../harness.ts'
import type { MuxerName, MuxerUnderTest } from '../muxers.ts'
import type { LoopbackServer } from '../pairs.ts'
import type { StreamMuxer } from '@libp2p/interface'

const PAYLOAD = new Uint8Array(32).fill(3)

async function openOne (muxer: StreamMuxer): Promise<number> {
  const t0 = performance.now()
  const stream = await muxer.createStream()
  const closed = new Promise<void>((resolve, reject) => {
    stream.addEventListener('close', evt => {
      if (evt.error != null) { reject(evt.error) } else { resolve() }
    }, { once: true })
  })
  const echoed = readBytes(stream, PAYLOAD.byteLength)
  stream.send(PAYLOAD)
  await Promise.all([stream.close(), echoed, closed])
  return performance.now() - t0
}

export interface OpenOptions {
  server: LoopbackServer
  total: number
  inFlight: number
  reps: number
}

/** One open-rate run through a fresh muxer pair (`ab.ts` runs it too) */
export async function openOnce (opts: OpenOptions, muxer: MuxerUnderTest, issues: string[]): Promise<Metrics> {
  const conns = await connPair('tcp', opts.server)
  const muxers = muxerPair(muxer, conns)
  muxers.server.addEventListener('stream', evt => { echo(evt.detail) })
  const latencies = new Float64Array(opts.total)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < opts.total) {
      const i = next++
      latencies[i] = await openOne(muxers.client)
    }
  }
  const stop = startClock()
  await Promise.all(Array.from({ length: opts.inFlight }, worker))
  const t = stop()
  if (!await closeMuxerPair(muxers)) { issues.push(`${muxerLabel(muxer)}: graceful close timed out after the open-rate run`) }
  await closeConnPair(conns)
  latencies.sort()
  return {
    rate: opts.total / (t.ms / 1e3),
    cpuRate: opts.total / (t.cpuMs / 1e3),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99)
  }
}

export async function open (opts: OpenOptions): Promise<ScenarioResult> {
  return runRotated({
    id: 'open-tcp',
    title: `Open ${opts.total.toLocaleString('en-US')} streams, ${opts.inFlight} in flight, 32 B echo each, tcp`,
    short: 'open streams, tcp',
    notes: [
      'latency = createStream() call to the dialer\'s \'close\' event, including queueing behind the other workers',
      MUXER_NOTE
    ],
    variants: MUXERS,
    reps: opts.reps,
    metrics: [
      { key: 'rate', label: 'streams/s', unit: 'streams/s', better: 'higher' },
      { key: 'cpuRate', label: 'streams per CPU-s', unit: 'streams/CPU-s', better: 'higher' },
      { key: 'p50', label: 'p50 ms', unit: 'ms', better: 'lower' },
      { key: 'p99', label: 'p99 ms', unit: 'ms', better: 'lower' }
    ],
    headline: ['rate'],
    run: async (variant, issues) => openOnce(opts, variant as MuxerName, issues)
  })
}
