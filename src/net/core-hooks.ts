/**
 * The two things src/net needs from `MuxadoMuxer` that its public API does not offer yet:
 * opening a stream with a stream type, and knowing whether the peer sent GOAWAY. Both reach
 * into the muxer's private members, here and nowhere else, until the core exposes them.
 */

import type { RemoteGoAwayError } from '../errors.ts'
import type { MuxadoMuxer } from '../muxer.ts'
import type { MuxadoStream } from '../stream.ts'
import type { CreateStreamOptions } from '@libp2p/interface'

type AddStream = (streamId: number, streamType: number, direction: 'inbound' | 'outbound', options: CreateStreamOptions, hidden?: boolean) => MuxadoStream

interface MuxerInternals {
  addStream: AddStream
  remoteGoaway?: RemoteGoAwayError
}

/**
 * Run the core's `onCreateStream` (its GOAWAY and stream-limit checks, id allocation, SYN)
 * with `streamType` in the SYN instead of 0.
 */
export function createTypedStream (muxer: MuxadoMuxer, createUntyped: () => MuxadoStream, streamType: number): MuxadoStream {
  const internals = muxer as unknown as MuxerInternals
  const addStream = internals.addStream
  internals.addStream = (streamId, _type, direction, options, hidden) => addStream.call(muxer, streamId, streamType, direction, options, hidden)
  try {
    return createUntyped()
  } finally {
    // back to the prototype's method
    delete (internals as Partial<MuxerInternals>).addStream
  }
}

/** The peer's GOAWAY, once one arrived */
export function remoteGoAway (muxer: MuxadoMuxer): RemoteGoAwayError | undefined {
  return (muxer as unknown as MuxerInternals).remoteGoaway
}
