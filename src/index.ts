/**
 * @packageDocumentation
 *
 * The muxado v1 stream multiplexer for js-libp2p v3, byte-compatible with the Go library
 * `github.com/inconshreveable/muxado` (v1, as packaged by Debian).
 *
 * @example
 *
 * ```typescript
 * import { createLibp2p } from 'libp2p'
 * import { muxado } from 'libp2p-muxado'
 *
 * const node = await createLibp2p({
 *   // transports, connectionEncrypters, ...
 *   streamMuxers: [muxado()]
 * })
 * ```
 */

import { serviceCapabilities } from '@libp2p/interface'
import { resolveConfig } from './config.ts'
import { MuxadoMuxer, PROTOCOL } from './muxer.ts'
import type { MuxadoInit } from './config.ts'
import type { Connection, MessageStream, StreamMuxerFactory } from '@libp2p/interface'

export { PROTOCOL, MuxadoMuxer }
export type { Role, MuxadoCreateStreamOptions } from './muxer.ts'
export { MuxadoStream } from './stream.ts'
export type { MuxadoInit, MuxadoConfig } from './config.ts'
export { defaultConfig } from './config.ts'
export { DataAfterFinError, FlowControlError, FrameError, HeartbeatTimeoutError, ProtocolViolationError, RemoteGoAwayError, StreamChurnLimitError, StreamIdsExhaustedError, StreamResetByPeerError, TooManyUselessFramesError, UnexpectedEOFError, WriteTimeoutError } from './errors.ts'
export type { ErrorScope } from './errors.ts'
export { ErrorCode, FrameType, Flag, HEARTBEAT_STREAM_TYPE, INITIAL_WINDOW, MAX_PAYLOAD } from './protocol/constants.ts'

/**
 * The muxado session behind a libp2p connection (for its `rtt`, say), or undefined when the
 * connection runs another muxer.
 */
export function muxadoSession (connection: Connection): MuxadoMuxer | undefined {
  // libp2p keeps the muxer in a field that is not part of its public Connection interface
  const muxer = (connection as unknown as { muxer?: unknown }).muxer
  return muxer instanceof MuxadoMuxer ? muxer : undefined
}

class MuxadoFactory implements StreamMuxerFactory<MuxadoMuxer> {
  readonly protocol = PROTOCOL
  readonly [Symbol.toStringTag] = 'libp2p-muxado'
  readonly [serviceCapabilities]: string[] = ['@libp2p/stream-multiplexing']
  private readonly init: MuxadoInit

  constructor (init: MuxadoInit) {
    resolveConfig(init) // bad options throw here, not on the first connection
    this.init = init
  }

  createStreamMuxer (maConn: MessageStream): MuxadoMuxer {
    return new MuxadoMuxer(maConn, this.init)
  }
}

/**
 * Create a muxado stream muxer factory for a libp2p node's `streamMuxers` list. Invalid options
 * throw here, not on the first connection.
 */
export function muxado (init: MuxadoInit = {}): () => StreamMuxerFactory<MuxadoMuxer> {
  const factory = new MuxadoFactory(init)
  return () => factory
}
