/**
 * Scenario: request/response latency. One stream, `warmup` untimed then `count` timed round trips
 * of 64 B; the listener echoes. Baseline `raw`: the same ping-pong directly on the wrapped TCP
 * connection, no muxer.
 */
import { runRotated, startClock } from '../harness.ts'
import { echo } from '../io.ts'
import { MUXERS, MUXER_NOTE, closeMuxerPair, muxerLabel, muxerPair } from '../muxers.ts'
import { closeConnPair, connPair } from '../pairs.ts'
import { percentile } from '../stats.ts'
import type { Metrics, ScenarioResult } from '../harness.ts'
import type { MuxerName, MuxerUnderTest } from '../muxers.ts'
import type { LoopbackServer } from '../pairs.ts'
import type { MessageStream } from '@libp2p/interface'

const SIZE = 64
const PAYLOAD = new Uint8Array(SIZE).fill(5)

/** Ping-pong `warmup + count` times, one message in flight; returns the timed samples in µs */
async function pingPong (stream: MessageStream, warmup: number, count: number): Promise<Float64Array> {
  const samples = new Float64Array(count)
  return new Promise((resolve, reject) => {
    let i = -warmup
    let got = 0
    let t0 = 0
    const ping = (): void => {
      t0 = performance.now()
      stream.send(PAYLOAD)
    }
    const onMessage = (evt: { data: { byteLength: number } }): void => {
      got += evt.data.byteLength
      if (got < SIZE) { return }
      got -= SIZE
      if (i >= 0) { samples[i] = (performance.now() - t0) * 1e3 }
      if (++i === count) {
        stream.removeEventListener('message', onMessage)
        stream.removeEventListener('close', onClose)
        resolve(samples)
      } else {
        ping()
      }
    }
    const onClose = (): void => { reject(new Error(`stream closed after ${i + warmup} round trips`)) }
    stream.addEventListener('message', onMessage)
    stream.addEventListener('close', onClose)
    ping()
  })
}

export interface LatencyOptions {
  server: LoopbackServer
  warmup: number
  count: number
  reps: number
}

function metrics (samples: Float64Array, t: { cpuMs: number }, rounds: number): Metrics {
  samples.sort()
  return {
    p50: percentile(samples, 50),
    p90: percentile(samples, 90),
    p99: percentile(samples, 99),
    max: samples[samples.length - 1],
    cpuUs: t.cpuMs * 1e3 / rounds
  }
}

async function runRaw (opts: LatencyOptions): Promise<Metrics> {
  const conns = await connPair('tcp', opts.server)
  conns.server.addEventListener('message', evt => { conns.server.send(evt.data) })
  const stop = startClock()
  const samples = await pingPong(conns.client, opts.warmup, opts.count)
  const t = stop()
  await closeConnPair(conns)
  return metrics(samples, t, opts.warmup + opts.count)
}

/** One stream's round trips through a fresh muxer pair (`ab.ts` runs it too) */
export async function roundTripsOnce (opts: LatencyOptions, muxer: MuxerUnderTest, issues: string[]): Promise<Metrics> {
  const conns = await connPair('tcp', opts.server)
  const muxers = muxerPair(muxer, conns)
  muxers.server.addEventListener('stream', evt => { echo(evt.detail) })
  const stream = await muxers.client.createStream()
  const stop = startClock()
  const samples = await pingPong(stream, opts.warmup, opts.count)
  const t = stop()
  if (!await closeMuxerPair(muxers)) { issues.push(`${muxerLabel(muxer)}: graceful close timed out after the latency run`) }
  await closeConnPair(conns)
  return metrics(samples, t, opts.warmup + opts.count)
}

export async function latency (opts: LatencyOptions): Promise<ScenarioResult> {
  return runRotated({
    id: 'rtt-tcp',
    title: `Request/response, ${opts.count.toLocaleString('en-US')} round trips of 64 B on one stream (after ${opts.warmup.toLocaleString('en-US')} untimed), tcp`,
    short: '64 B round trip, tcp',
    notes: [
      'raw = the same ping-pong on the @libp2p/tcp-wrapped socket, no muxer',
      'CPU µs per round trip covers both ends and the untimed warm-up round trips',
      MUXER_NOTE
    ],
    variants: [...MUXERS, 'raw'],
    reps: opts.reps,
    metrics: [
      { key: 'p50', label: 'p50 µs', unit: 'µs', better: 'lower' },
      { key: 'p90', label: 'p90 µs', unit: 'µs', better: 'lower' },
      { key: 'p99', label: 'p99 µs', unit: 'µs', better: 'lower' },
      { key: 'max', label: 'max µs', unit: 'µs', better: 'lower' },
      { key: 'cpuUs', label: 'CPU µs per round trip', unit: 'µs', better: 'lower' }
    ],
    headline: ['p50', 'p99'],
    run: async (variant, issues) => variant === 'raw' ? runRaw(opts) : roundTripsOnce(opts, variant as MuxerName, issues)
  })
}
