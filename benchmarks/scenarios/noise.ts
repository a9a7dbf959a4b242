/**
 * Scenario: bulk on one stream between two real libp2p nodes over TCP + Noise, the stack a
 * libp2p user runs. Every run dials a fresh connection (`force: true`), so the Noise handshake
 * and muxer negotiation happen outside the clock but each transfer starts on a new session.
 * Noise encrypts and decrypts every byte here, so the muxer's share of the cost is smaller than
 * in the raw TCP scenario.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { runRotated, startClock } from '../harness.ts'
import { readBytes, writeStrict } from '../io.ts'
import { MUXERS, MUXER_ENTRIES, MUXER_NOTE } from '../muxers.ts'
import { CHUNK, THROUGHPUT_METRICS, rates } from './bulk.ts'
import type { Metrics, ScenarioResult } from '../harness.ts'
import type { MuxerName } from '../muxers.ts'
import type { Libp2p } from '@libp2p/interface'

const PROTOCOL = '/bench/bulk/1.0.0'
const MiB = 1024 * 1024

export interface NoiseBulkOptions {
  total: number
  reps: number
}

export interface NodePair {
  dialer: Libp2p
  listener: Libp2p
}

async function createNode (name: MuxerName): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [MUXER_ENTRIES[name]]
  })
}

/** The listener counts `total` bytes on every stream of the protocol, then closes it */
export async function createPair (name: MuxerName, total: number): Promise<NodePair> {
  const [dialer, listener] = await Promise.all([createNode(name), createNode(name)])
  await listener.handle(PROTOCOL, async (stream) => {
    try {
      await readBytes(stream, total)
      await stream.close()
    } catch (err: any) {
      stream.abort(err)
    }
  })
  return { dialer, listener }
}

/** One transfer on a fresh connection; also the workload of the CPU-profile entry point */
export async function noiseBulkOnce (pair: NodePair, chunk: Uint8Array, total: number): Promise<Metrics> {
  const connection = await pair.dialer.dial(pair.listener.getMultiaddrs()[0], { force: true })
  const stream = await connection.newStream(PROTOCOL)
  const closed = new Promise<void>((resolve, reject) => {
    stream.addEventListener('close', (evt) => { evt.error != null ? reject(evt.error) : resolve() }, { once: true })
  })
  const stop = startClock()
  await writeStrict(stream, chunk, total)
  await stream.close()
  // the listener closes its end once it has counted every byte
  await closed
  const t = stop()
  await connection.close()
  return rates(total, t)
}

export async function bulkNoise (opts: NoiseBulkOptions): Promise<ScenarioResult> {
  const chunk = new Uint8Array(CHUNK).fill(7)
  const pairs = new Map<MuxerName, NodePair>()
  for (const name of MUXERS) { pairs.set(name, await createPair(name, opts.total)) }
  try {
    return await runRotated({
      id: 'bulk-noise',
      title: `Bulk, one stream, ${opts.total / MiB} MiB in 64 KiB sends, libp2p nodes over tcp + noise`,
      short: 'bulk 1 stream, tcp + noise',
      notes: [
        'two libp2p nodes per muxer (TCP + Noise, one muxer each); every run dials a fresh connection and opens one stream',
        'the clock runs from the first send until the listener has counted every byte and closed its end',
        'strict writer, as in the other bulk scenarios',
        MUXER_NOTE
      ],
      variants: MUXERS,
      reps: opts.reps,
      metrics: THROUGHPUT_METRICS,
      headline: ['mbps'],
      run: async (variant) => noiseBulkOnce(pairs.get(variant as MuxerName) as NodePair, chunk, opts.total)
    })
  } finally {
    await Promise.allSettled([...pairs.values()].map(stopPair))
  }
}

export async function stopPair (pair: NodePair): Promise<void> {
  await Promise.all([pair.dialer.stop(), pair.listener.stop()])
}
