import { INITIAL_WINDOW } from './protocol/constants.ts'
import type { StreamMuxerOptions } from '@libp2p/interface'

export interface MuxadoInit extends StreamMuxerOptions {
  /**
   * How far a stream's receive window may grow while the application keeps up with the data.
   * Every stream starts at muxado's fixed 65536 bytes; a Go peer accepts any grant.
   *
   * @default 1_048_576
   */
  maxStreamWindow?: number

  /**
   * Frames decoded from the connection before yielding to the event loop, so that a chunk
   * packed with tiny frames cannot starve timers and other connections.
   *
   * @default 1024
   */
  maxFramesPerTurn?: number
}

export interface MuxadoConfig {
  maxInboundStreams: number
  maxOutboundStreams: number
  maxStreamWindow: number
  maxFramesPerTurn: number
}

export const defaultConfig: MuxadoConfig = {
  maxInboundStreams: 1_000,
  maxOutboundStreams: 1_000,
  maxStreamWindow: 1_048_576,
  maxFramesPerTurn: 1024
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
    maxFramesPerTurn: init.maxFramesPerTurn ?? defaultConfig.maxFramesPerTurn
  }
  for (const [name, value] of Object.entries(config)) checkPositiveInteger(name, value)
  if (config.maxStreamWindow < INITIAL_WINDOW || config.maxStreamWindow > 0x7fffffff) {
    throw new RangeError(`muxado: maxStreamWindow must be between ${INITIAL_WINDOW} and 2^31-1, got ${config.maxStreamWindow}`)
  }
  return config
}
