/**
 * Scenario: many concurrent streams. `count` streams are opened at once; each sends `size` bytes
 * in 64 KiB strict sends and then half-closes. Done when the receiver has counted every byte.
 * `transferMany` is shared with the memory child process.
 */
import { runRotated, startClock } from '../harness.ts'
import { readBytes, writeStrict } from '../io.ts'
import { MUXERS, MUXER_NOTE, closeMuxerPair, muxerLabel, muxerPair } from '../muxers.ts'
import { closeConnPair, connPair } from '../pairs.ts'
import { CHUNK, THROUGHPUT_METRICS, rates } from './bulk.ts'
import type { Metrics, ScenarioResult } from '../harness.ts'
import type { MuxerName, MuxerPair, MuxerUnderTest } from '../muxers.ts'
import type { LoopbackServer } from '../pairs.ts'

const MiB = 1024 * 1024

export interface TransferOptions {
  count: number
  size: number
  /** allocate a new buffer per send, so anything buffered is real memory */
  fresh?: boolean
  /** called for every message the receiver gets (memory sampling) */
  onMessage?(): void
}

export async function transferMany (muxers: MuxerPair, opts: TransferOptions): Promise<void> {
  const chunk = new Uint8Array(CHUNK).fill(7)
  let pending = opts.count
  const received = new Promise<void>((resolve, reject) => {
    muxers.server.addEventListener('stream', evt => {
      readBytes(evt.detail, opts.size, opts.onMessage).then(() => {
        if (--pending === 0) { resolve() }
      }, reject)
    })
  })
  const sending = Array.from({ length: opts.count }, async () => {
    const stream = await muxers.client.createStream()
    await writeStrict(stream, chunk, opts.size, { fresh: opts.fresh })
    await stream.close()
  })
  await Promise.all([...sending, received])
}

export interface StreamsOptions {
  server: LoopbackServer
  count: number
  size: number
  reps: number
}

/** One many-streams transfer through a fresh muxer pair (`ab.ts` runs it too) */
export async function manyStreamsOnce (opts: StreamsOptions, muxer: MuxerUnderTest, issues: string[]): Promise<Metrics> {
  const conns = await connPair('tcp', opts.server)
  const muxers = muxerPair(muxer, conns)
  const stop = startClock()
  await transferMany(muxers, opts)
  const t = stop()
  if (!await closeMuxerPair(muxers)) { issues.push(`${muxerLabel(muxer)}: graceful close timed out after a many-streams run`) }
  await closeConnPair(conns)
  return rates(opts.count * opts.size, t)
}

export async function streams (opts: StreamsOptions): Promise<ScenarioResult> {
  return runRotated({
    id: 'streams-tcp',
    title: `${opts.count} streams × ${opts.size / MiB} MiB at once, tcp`,
    short: `${opts.count} streams × ${opts.size / MiB} MiB, tcp`,
    notes: [
      'all streams opened together; each sends in 64 KiB strict sends then closes; the clock stops when every byte is counted',
      MUXER_NOTE
    ],
    variants: MUXERS,
    reps: opts.reps,
    metrics: [
      { key: 'mbps', label: 'total MB/s', unit: 'MB/s', better: 'higher' },
      ...THROUGHPUT_METRICS.filter(m => m.key !== 'mbps')
    ],
    headline: ['mbps'],
    run: async (variant, issues) => manyStreamsOnce(opts, variant as MuxerName, issues)
  })
}
