/**
 * Decoding recorded wire bytes into a frame list, with the project's own decoder, for assertions
 * on what went over a connection.
 */

import { FrameDecoder, FrameType } from '../../src/protocol/index.ts'

export interface WireFrame {
  type: number
  name: string
  streamId: number
  flags?: number
  streamType?: number
  priority?: number
  bytes?: number
  errorCode?: number
  increment?: number
  lastStreamId?: number
}

const NAMES: Record<number, string> = {
  [FrameType.SYN]: 'SYN',
  [FrameType.RST]: 'RST',
  [FrameType.DATA]: 'DATA',
  [FrameType.WNDINC]: 'WNDINC',
  [FrameType.GOAWAY]: 'GOAWAY'
}

/** Every complete frame in `bytes`; throws on a framing error (what our muxer would reject) */
export function decodeFrames (bytes: Uint8Array): WireFrame[] {
  const frames: WireFrame[] = []
  const decoder = new FrameDecoder()
  decoder.push(bytes)
  decoder.decode({
    onSyn: (streamId, flags, priority, streamType) => frames.push({ type: FrameType.SYN, name: 'SYN', streamId, flags, priority, streamType }),
    onData: (streamId, flags, payload) => frames.push({ type: FrameType.DATA, name: 'DATA', streamId, flags, bytes: payload.byteLength }),
    onRst: (streamId, errorCode) => frames.push({ type: FrameType.RST, name: 'RST', streamId, errorCode }),
    onWndinc: (streamId, increment) => frames.push({ type: FrameType.WNDINC, name: 'WNDINC', streamId, increment }),
    onGoaway: (lastStreamId, errorCode) => frames.push({ type: FrameType.GOAWAY, name: 'GOAWAY', streamId: 0, lastStreamId, errorCode })
  })
  return frames
}

/** One line per frame, for failure messages */
export function formatFrames (frames: WireFrame[]): string {
  return frames.map(f => {
    const { type, name, ...rest } = f
    return `${NAMES[type] ?? name} ${JSON.stringify(rest)}`
  }).join('\n')
}

export function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}
