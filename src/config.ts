import { INITIAL_WINDOW } from './protocol/constants.ts'
import type { StreamMuxerOptions } from '@libp2p/interface'

export interface MuxadoInit extends StreamMuxerOptions {
  /**
   * How far a stream's receive window may grow. Every stream starts at muxado's fixed 65536
   * bytes and doubles for each sixteenth of it that its reader drains in under a quarter of a
   * round trip (the window, not the link or the application, is the limit), so up to 16-fold per
   * round trip; a Go peer accepts any grant. The default covers a
   * 1 Gbit/s path with a 100 ms round trip (12.5 MB in flight). A stream whose reader pauses
   * buffers at most this much.
   *
   * @default 16_777_216
   */
  maxStreamWindow?: number

  /**
   * The session's receive budget: bytes the stream windows of one session may grow beyond their
   * initial 65536, all together, shared equally among the streams that are growing. A peer can
   * make one session buffer at most this plus 65536 per stream. The default lets one stream
   * fill a 1 Gbit/s × 100 ms path with room to spare, or 8 streams 4 MiB each.
   *
   * @default 33_554_432
   */
  sessionReceiveBudget?: number

  /**
   * Frames decoded from the connection before yielding to the event loop, so that a chunk
   * packed with tiny frames cannot starve timers and other connections.
   *
   * @default 1024
   */
  maxFramesPerTurn?: number

  /**
   * Frames that do nothing (empty DATA, WNDINC 0, frames for closed streams) tolerated in a
   * burst; the budget refills at a tenth of this per second. Beyond it the session ends with
   * GOAWAY ProtocolError and `TooManyUselessFramesError`.
   *
   * @default 1000
   */
  maxUselessFrames?: number

  /**
   * Stream resets the peer may cause in a burst (its RSTs on open streams, and RSTs it provokes
   * from us by breaking a stream's rules): the rapid-reset defence. Beyond it, and beyond
   * `maxStreamResetsPerSecond` sustained, the session ends with GOAWAY ProtocolError and
   * `StreamChurnLimitError`.
   *
   * @default 1000
   */
  maxStreamResets?: number

  /**
   * @default 200
   */
  maxStreamResetsPerSecond?: number

  /**
   * Milliseconds the connection may refuse all data before the session ends with
   * `WriteTimeoutError` (GOAWAY InternalError): a peer that never reads cannot pin our buffers.
   *
   * @default 10000
   */
  writeTimeout?: number

  /**
   * Bytes a stream buffers for sending beyond what the window lets out, unless
   * `streamOptions.maxWriteBufferLength` says otherwise; over it the stream is reset with
   * `StreamBufferError`. libp2p's own default is unbounded.
   *
   * @default 4194304
   */
  maxWriteBufferLength?: number

  /**
   * Ping the peer on our own heartbeat stream, measure the round trip (`muxer.rtt`) and close
   * the session when an echo does not come back in time. The peer's pings are always answered,
   * whatever this says: a Go peer closes a session whose pings go unanswered.
   *
   * @default true
   */
  enableHeartbeat?: boolean

  /**
   * Milliseconds between an echo and the next ping (Go pings every 3 s)
   *
   * @default 3000
   */
  heartbeatInterval?: number

  /**
   * Milliseconds to wait for an echo before the session closes with `HeartbeatTimeoutError`
   *
   * @default 10000
   */
  heartbeatTimeout?: number
}

export interface MuxadoConfig {
  maxInboundStreams: number
  maxOutboundStreams: number
  maxStreamWindow: number
  sessionReceiveBudget: number
  maxFramesPerTurn: number
  maxUselessFrames: number
  maxStreamResets: number
  maxStreamResetsPerSecond: number
  writeTimeout: number
  maxWriteBufferLength: number
  enableHeartbeat: boolean
  heartbeatInterval: number
  heartbeatTimeout: number
}

export const defaultConfig: MuxadoConfig = {
  maxInboundStreams: 1_000,
  maxOutboundStreams: 1_000,
  maxStreamWindow: 16 * 1024 * 1024,
  sessionReceiveBudget: 32 * 1024 * 1024,
  maxFramesPerTurn: 1024,
  maxUselessFrames: 1000,
  maxStreamResets: 1000,
  maxStreamResetsPerSecond: 200,
  writeTimeout: 10_000,
  maxWriteBufferLength: 4 * 1024 * 1024,
  enableHeartbeat: true,
  heartbeatInterval: 3000,
  heartbeatTimeout: 10000
}

function checkPositiveInteger (name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`muxado: ${name} must be a positive integer, got ${value}`)
  }
}

/** Merge options over the defaults; bad values throw at construction, not on the first frame */
export function resolveConfig (init: MuxadoInit = {}): MuxadoConfig {
  const config: MuxadoConfig = {
    maxInboundStreams: init.maxInboundStreams ?? defaultConfig.maxInboundStreams,
    maxOutboundStreams: init.maxOutboundStreams ?? defaultConfig.maxOutboundStreams,
    maxStreamWindow: init.maxStreamWindow ?? defaultConfig.maxStreamWindow,
    sessionReceiveBudget: init.sessionReceiveBudget ?? defaultConfig.sessionReceiveBudget,
    maxFramesPerTurn: init.maxFramesPerTurn ?? defaultConfig.maxFramesPerTurn,
    maxUselessFrames: init.maxUselessFrames ?? defaultConfig.maxUselessFrames,
    maxStreamResets: init.maxStreamResets ?? defaultConfig.maxStreamResets,
    maxStreamResetsPerSecond: init.maxStreamResetsPerSecond ?? defaultConfig.maxStreamResetsPerSecond,
    writeTimeout: init.writeTimeout ?? defaultConfig.writeTimeout,
    maxWriteBufferLength: init.maxWriteBufferLength ?? defaultConfig.maxWriteBufferLength,
    enableHeartbeat: init.enableHeartbeat ?? defaultConfig.enableHeartbeat,
    heartbeatInterval: init.heartbeatInterval ?? defaultConfig.heartbeatInterval,
    heartbeatTimeout: init.heartbeatTimeout ?? defaultConfig.heartbeatTimeout
  }
  for (const [name, value] of Object.entries(config)) {
    if (typeof value === 'number') { checkPositiveInteger(name, value) }
  }
  if (config.maxStreamWindow < INITIAL_WINDOW || config.maxStreamWindow > 0x7fffffff) {
    throw new RangeError(`muxado: maxStreamWindow must be between ${INITIAL_WINDOW} and 2^31-1, got ${config.maxStreamWindow}`)
  }
  return config
}
