/**
 * The muxers under test, created the way libp2p creates them: `factory()()` then
 * `createStreamMuxer(maConn)` on each end of a connection pair.
 */
import { yamux } from '@chainsafe/libp2p-yamux'
import { mplex } from '@libp2p/mplex'
import { muxado } from '../src/index.ts'
import type { ConnPair } from './pairs.ts'
import type { StreamMuxer, StreamMuxerFactory } from '@libp2p/interface'

export type MuxerName = 'muxado' | 'yamux' | 'mplex'

export const MUXERS: MuxerName[] = ['muxado', 'yamux', 'mplex']

/** Printed with every result: the one non-default option */
export const MUXER_NOTE = 'mplex runs with disconnectThreshold: Infinity (its default of 5 inbound streams/s aborts the connection); yamux and muxado use their defaults'

/** Each muxer as a libp2p node's `streamMuxers` entry takes it */
export const MUXER_ENTRIES: Record<MuxerName, () => StreamMuxerFactory> = {
  muxado: muxado(),
  yamux: yamux(),
  // mplex consumes a rate-limiter point for every inbound stream and kills the connection at 5/s
  mplex: mplex({ disconnectThreshold: Infinity })
}

const factories = Object.fromEntries(MUXERS.map(name => [name, MUXER_ENTRIES[name]()])) as Record<MuxerName, StreamMuxerFactory>

export interface MuxerPair {
  client: StreamMuxer
  server: StreamMuxer
}

/** A muxer under test by name, or a factory (`ab.ts` passes another build's muxado) */
export type MuxerUnderTest = MuxerName | StreamMuxerFactory

/** How a muxer under test is named in the issues a run reports */
export function muxerLabel (muxer: MuxerUnderTest): string {
  return typeof muxer === 'string' ? muxer : `a ${muxer.protocol} build`
}

export function muxerPair (muxer: MuxerUnderTest, conns: ConnPair): MuxerPair {
  const factory = typeof muxer === 'string' ? factories[muxer] : muxer
  return {
    client: factory.createStreamMuxer(conns.client),
    server: factory.createStreamMuxer(conns.server)
  }
}

/**
 * Close both muxers gracefully. Returns false if that did not finish in time (then both are
 * aborted), so a hang shows up in the results instead of stalling the run.
 */
export async function closeMuxerPair (pair: MuxerPair): Promise<boolean> {
  const signal = AbortSignal.timeout(2000)
  try {
    await Promise.all([pair.client.close({ signal }), pair.server.close({ signal })])
    return true
  } catch (err: any) {
    pair.client.abort(err)
    pair.server.abort(err)
    return false
  }
}
