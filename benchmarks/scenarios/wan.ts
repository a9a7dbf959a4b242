/**
 * Scenario: long, fat links. Every variant goes through the same user-space link emulator
 * (test/helpers/link-emulator.ts, on a worker thread): 1 Gbit/s, RTT 20/50/100 ms, a bottleneck
 * queue of one bandwidth-delay product, one bottleneck per direction shared by all connections.
 * Throughput of one stream and of 8 streams, and the bytes paused readers leave buffered.
 */
import { Worker } from 'node:worker_threads'
import { yamux } from '@chainsafe/libp2p-yamux'
import { mplex } from '@libp2p/mplex'
import { muxado } from '../../src/index.ts'
import { buffered, pauseAfter, settled } from '../../test/helpers/paused-readers.ts'
import { runRotated, startClock } from '../harness.ts'
import { readBytes, readSocket, writeSocket, writeStrict } from '../io.ts'
import { MUXERS, MUXER_NOTE, closeMuxerPair, muxerPair } from '../muxers.ts'
import { closeConnPair, tcpPair } from '../pairs.ts'
import { CHUNK } from './bulk.ts'
import type { LinkOptions } from '../../test/helpers/link-emulator.ts'
import type { MetricDef, Metrics, ScenarioResult } from '../harness.ts'
import type { MuxerName } from '../muxers.ts'
import type { LoopbackServer } from '../pairs.ts'
import type { Stream, StreamMuxerFactory } from '@libp2p/interface'

const MiB = 1024 * 1024
export const LINK_BITS_PER_SECOND = 1e9
/** throughput is also measured from this long after the start: windows have grown by then */
const WARM_UP_MS = 1000

interface Link {
  port: number
  close(): Promise<number>
}

async function startLink (targetPort: number, options: LinkOptions): Promise<Link> {
  const worker = new Worker(new URL('../link-worker.js', import.meta.url), { workerData: { targetPort, options } })
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  return { port, close: async () => worker.terminate() }
}

/** Bytes received over time: the whole transfer's rate, and the rate after the warm-up */
class Meter {
  private readonly total: number
  private readonly started = performance.now()
  private received = 0
  private warm?: { at: number, bytes: number }

  constructor (total: number) {
    this.total = total
  }

  readonly add = (bytes: number): void => {
    this.received += bytes
    if (this.warm == null && performance.now() - this.started >= WARM_UP_MS) {
      this.warm = { at: performance.now(), bytes: this.received }
    }
  }

  rates (elapsed: { ms: number, cpuMs: number }): Metrics {
    const end = this.started + elapsed.ms
    const warm = this.warm ?? { at: end, bytes: this.total }
    return {
      mbps: this.total / 1e3 / elapsed.ms,
      warmMbps: (this.total - warm.bytes) / 1e3 / (end - warm.at),
      mbcpu: this.total / 1e3 / elapsed.cpuMs
    }
  }
}

export interface WanOptions {
  server: LoopbackServer
  rttMs: number[]
  /** bytes per run, split evenly over the streams */
  total: number
  reps: number
}

async function runNet (opts: WanOptions, link: Link, streams: number, chunk: Uint8Array): Promise<Metrics> {
  const pairs = await Promise.all(Array.from({ length: streams }, async () => opts.server.connect(link.port)))
  const each = opts.total / streams
  const stop = startClock()
  const meter = new Meter(opts.total)
  await Promise.all(pairs.flatMap(p => [writeSocket(p.client, chunk, each), readSocket(p.server, each, meter.add)]))
  const rates = meter.rates(stop())
  for (const p of pairs) { p.client.destroy(); p.server.destroy() }
  return rates
}

async function runMuxer (opts: WanOptions, link: Link, name: MuxerName, streams: number, chunk: Uint8Array, issues: string[]): Promise<Metrics> {
  const conns = await tcpPair(opts.server, link.port)
  const muxers = muxerPair(name, conns)
  const each = opts.total / streams
  const stop = startClock()
  const meter = new Meter(opts.total)
  const received = new Promise<void>((resolve, reject) => {
    let pending = streams
    muxers.server.addEventListener('stream', evt => {
      readBytes(evt.detail, each, meter.add).then(() => { if (--pending === 0) { resolve() } }, reject)
    })
  })
  const sending = Array.from({ length: streams }, async () => {
    const stream: Stream = await muxers.client.createStream()
    await writeStrict(stream, chunk, each)
    await stream.close()
  })
  await Promise.all([...sending, received])
  const rates = meter.rates(stop())
  if (!await closeMuxerPair(muxers)) { issues.push(`${name}: graceful close timed out after a WAN run`) }
  await closeConnPair(conns)
  return rates
}

const THROUGHPUT: MetricDef[] = [
  { key: 'mbps', label: 'MB/s', unit: 'MB/s', better: 'higher' },
  { key: 'warmMbps', label: `MB/s after ${WARM_UP_MS / 1000} s`, unit: 'MB/s', better: 'higher' },
  { key: 'mbcpu', label: 'MB per CPU-s', unit: 'MB/CPU-s', better: 'higher' }
]

function linkOptions (rttMs: number): LinkOptions {
  return { rttMs, bitsPerSecond: LINK_BITS_PER_SECOND }
}

/** One rotation per RTT and stream count */
export async function wan (opts: WanOptions): Promise<ScenarioResult[]> {
  const chunk = new Uint8Array(CHUNK).fill(7)
  const results: ScenarioResult[] = []
  for (const rttMs of opts.rttMs) {
    const link = await startLink(opts.server.port, linkOptions(rttMs))
    for (const streams of [1, 8]) {
      results.push(await runRotated({
        id: `wan-${rttMs}ms-${streams}`,
        title: `WAN: ${streams === 1 ? 'one stream' : `${streams} streams`}, ${opts.total / MiB} MiB in 64 KiB sends, 1 Gbit/s, RTT ${rttMs} ms`,
        short: `WAN ${rttMs} ms, ${streams} stream${streams === 1 ? '' : 's'}`,
        notes: [
          `user-space link emulator on a worker thread: 1 Gbit/s each way, ${rttMs / 2} ms each way, bottleneck queue of one bandwidth-delay product (${(LINK_BITS_PER_SECOND / 8 * rttMs / 1000 / 1e6).toFixed(1)} MB), shared by all connections`,
          `net = ${streams} bare node:net socket${streams === 1 ? '' : 's'} through the same link: the link's measured capacity`,
          `MB/s after ${WARM_UP_MS / 1000} s = bytes received after the first ${WARM_UP_MS} ms over the time they took`,
          MUXER_NOTE
        ],
        variants: [...MUXERS, 'net'],
        reps: opts.reps,
        metrics: THROUGHPUT,
        headline: ['mbps', 'warmMbps'],
        baselineRatios: ['mbps', 'warmMbps'],
        run: async (variant, issues) => variant === 'net'
          ? runNet(opts, link, streams, chunk)
          : runMuxer(opts, link, variant as MuxerName, streams, chunk, issues)
      }))
    }
    await link.close()
  }
  return results
}

export interface PausedOptions {
  server: LoopbackServer
  rttMs: number
  streams: number
  /** bytes each reader takes before it pauses, so windows have grown */
  readFirst: number
  /** bytes each sender offers after that; mplex, with no flow control, takes them all */
  offer: number
  reps: number
}

/**
 * yamux and mplex with no read buffer limit, so that what their flow control allows shows:
 * with libp2p's default of 4 MiB a paused stream of theirs is reset once it holds more
 */
const unlimitedReads = { streamOptions: { maxReadBufferLength: Infinity } }
// mplex hands its init to libp2p's AbstractStreamMuxer, which reads streamOptions; its type omits it
const UNLIMITED_READS: Record<MuxerName, StreamMuxerFactory> = {
  muxado: muxado()(),
  yamux: yamux(unlimitedReads)(),
  mplex: mplex({ disconnectThreshold: Infinity, ...unlimitedReads })()
}

async function runPaused (opts: PausedOptions, link: Link, name: MuxerName): Promise<Metrics> {
  const conns = await tcpPair(opts.server, link.port)
  const muxers = { client: UNLIMITED_READS[name].createStreamMuxer(conns.client), server: UNLIMITED_READS[name].createStreamMuxer(conns.server) }
  const chunk = new Uint8Array(CHUNK).fill(7)
  const allPaused = pauseAfter(muxers.server, opts.readFirst, opts.streams)
  // libp2p resets a stream whose read buffer passes maxReadBufferLength (4 MiB unless the muxer sets it)
  let resets = 0
  muxers.server.addEventListener('stream', evt => {
    evt.detail.addEventListener('close', (closed) => { if (closed.error != null) { resets++ } })
  })
  const senders = Array.from({ length: opts.streams }, async () => {
    const stream = await muxers.client.createStream()
    await writeStrict(stream, chunk, opts.readFirst + opts.offer).catch(() => {})
  })
  await allPaused
  // 2 s without change: far longer than any round trip here, so every grant has arrived
  let peak = 0
  const probe = (): number => {
    const bytes = buffered(muxers.server)
    peak = Math.max(peak, bytes)
    return bytes
  }
  await Promise.race([settled(probe, 2000), Promise.all(senders).then(async () => settled(probe, 500))])
  const resetBeforeTheEnd = resets
  muxers.client.abort(new Error('measured'))
  muxers.server.abort(new Error('measured'))
  await closeConnPair(conns)
  return { bufferedMiB: peak / MiB, perStreamMiB: peak / MiB / opts.streams, resets: resetBeforeTheEnd }
}

export async function paused (opts: PausedOptions): Promise<ScenarioResult> {
  const link = await startLink(opts.server.port, linkOptions(opts.rttMs))
  const result = await runRotated({
    id: `wan-paused-${opts.streams}`,
    title: `WAN: ${opts.streams === 1 ? 'a paused reader' : `${opts.streams} paused readers on one session`}, RTT ${opts.rttMs} ms`,
    short: `${opts.streams} paused stream${opts.streams === 1 ? '' : 's'}, buffered`,
    notes: [
      `each reader takes ${opts.readFirst / MiB} MiB (its window grows), then pauses; each sender then offers ${opts.offer / MiB} MiB more, until the read buffers stop changing for 2 s`,
      `buffered = the peak of the bytes in the receiving streams' read buffers, sampled every 50 ms; ${(opts.streams * opts.offer / MiB).toFixed(0)} MiB would be the senders' whole offer`,
      'yamux and mplex run with streamOptions.maxReadBufferLength: Infinity here, so their flow control (or none) is what bounds them: with libp2p\'s default of 4 MiB their paused streams are reset once they hold more. muxado sets it to maxStreamWindow, which its window already bounds',
      'streams reset = receiving streams that ended with an error before the measurement ended',
      'muxado defaults: maxStreamWindow 16 MiB, sessionReceiveBudget 32 MiB',
      MUXER_NOTE
    ],
    variants: MUXERS,
    reps: opts.reps,
    warmup: false,
    metrics: [
      { key: 'bufferedMiB', label: 'buffered MiB', unit: 'MiB', better: 'lower' },
      { key: 'perStreamMiB', label: 'per stream MiB', unit: 'MiB', better: 'lower' },
      { key: 'resets', label: 'streams reset', unit: 'streams', better: 'lower' }
    ],
    headline: ['bufferedMiB'],
    run: async variant => runPaused(opts, link, variant as MuxerName)
  })
  await link.close()
  return result
}
