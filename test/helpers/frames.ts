/** Recording and printing the frames a muxer sends, decoded with the project's own decoder */
import { FrameDecoder, FrameType } from '../../src/protocol/index.ts'
import type { FrameHandler } from '../../src/protocol/index.ts'

/** A frame as seen on the wire */
export interface WireFrame {
  type: FrameType
  streamId: number
  flags: number
  /** DATA payload */
  payload?: Uint8Array
  /** RST and GOAWAY */
  errorCode?: number
  /** WNDINC */
  increment?: number
  /** GOAWAY */
  lastStreamId?: number
  /** SYN */
  streamType?: number
}

/** A frame handler that appends every frame to `frames`; a DATA payload becomes one Uint8Array */
export function recordFrames (frames: WireFrame[]): FrameHandler {
  return {
    onSyn: (streamId, flags, priority, streamType) => { frames.push({ type: FrameType.SYN, streamId, flags, streamType }) },
    onData: (streamId, flags, payload) => { frames.push({ type: FrameType.DATA, streamId, flags, payload: payload.subarray() }) },
    onRst: (streamId, errorCode) => { frames.push({ type: FrameType.RST, streamId, flags: 0, errorCode }) },
    onWndinc: (streamId, increment) => { frames.push({ type: FrameType.WNDINC, streamId, flags: 0, increment }) },
    onGoaway: (lastStreamId, errorCode) => { frames.push({ type: FrameType.GOAWAY, streamId: 0, flags: 0, lastStreamId, errorCode }) }
  }
}

/** Every complete frame in `bytes`; throws on a framing error (what our muxer would reject) */
export function decodeFrames (bytes: Uint8Array): WireFrame[] {
  const frames: WireFrame[] = []
  const decoder = new FrameDecoder()
  decoder.push(bytes)
  decoder.decode(recordFrames(frames))
  return frames
}

/** One frame in a line, for failure messages */
export function describeFrame (frame: WireFrame): string {
  const name = FrameType[frame.type] ?? String(frame.type)
  const extra = frame.payload != null ? ` len=${frame.payload.byteLength}` : ''
  return `${name}#${frame.streamId} flags=${frame.flags}${extra}${frame.errorCode != null ? ` code=${frame.errorCode}` : ''}${frame.increment != null ? ` +${frame.increment}` : ''}`
}

/** One line per frame, for failure messages */
export function formatFrames (frames: WireFrame[]): string {
  return frames.map(describeFrame).join('\n')
}
