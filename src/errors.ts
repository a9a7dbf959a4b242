import { StreamResetError } from '@libp2p/interface'
import { ErrorCode, errorCodeName } from './protocol/constants.ts'
import { FrameError } from './protocol/frame-error.ts'

export { FrameError }

/** The peer broke a session rule (a SYN id out of order, a frame for an id never assigned) */
export class ProtocolViolationError extends Error {
  static name = 'ProtocolViolationError'
  name = 'ProtocolViolationError'
}

/** The peer sent more DATA than the stream's window allowed */
export class FlowControlError extends Error {
  static name = 'FlowControlError'
  name = 'FlowControlError'
}

/** The peer sent DATA on a stream after its FIN */
export class DataAfterFinError extends Error {
  static name = 'DataAfterFinError'
  name = 'DataAfterFinError'
}

/**
 * The peer reset the stream. Extends libp2p's `StreamResetError` (the type applications check)
 * and carries the muxado error code, which may be any 32-bit value.
 */
export class StreamResetByPeerError extends StreamResetError {
  readonly errorCode: number

  constructor (errorCode: number) {
    super(`Stream reset by peer with error ${errorCodeName(errorCode)}`)
    this.errorCode = errorCode
  }
}

/** The peer sent GOAWAY: no new streams, and our streams it never saw are closed */
export class RemoteGoAwayError extends Error {
  static name = 'RemoteGoAwayError'
  name = 'RemoteGoAwayError'
  readonly errorCode: number

  constructor (message: string, errorCode: number) {
    super(message)
    this.errorCode = errorCode
  }
}

/** The peer did not echo a heartbeat ping in time: it or the path to it is dead */
export class HeartbeatTimeoutError extends Error {
  static name = 'HeartbeatTimeoutError'
  name = 'HeartbeatTimeoutError'
}

/** Every 31-bit stream id of our parity has been used */
export class StreamIdsExhaustedError extends Error {
  static name = 'StreamIdsExhaustedError'
  name = 'StreamIdsExhaustedError'
}

/** The peer sent more frames that do nothing (empty DATA, frames for closed streams) than the budget allows */
export class TooManyUselessFramesError extends Error {
  static name = 'TooManyUselessFramesError'
  name = 'TooManyUselessFramesError'
}

/** Streams were opened and reset faster than the budget allows (rapid reset, MadeYouReset) */
export class StreamChurnLimitError extends Error {
  static name = 'StreamChurnLimitError'
  name = 'StreamChurnLimitError'
}

/** The connection accepted no data for too long: the peer stopped reading */
export class WriteTimeoutError extends Error {
  static name = 'WriteTimeoutError'
  name = 'WriteTimeoutError'
}

/** The connection ended in the middle of a frame */
export class UnexpectedEOFError extends Error {
  static name = 'UnexpectedEOFError'
  name = 'UnexpectedEOFError'
}

export interface ErrorRule {
  /** the error's `name` */
  error: string
  /** a session fault ends every stream; a stream fault resets only its stream */
  scope: 'session' | 'stream'
  /** what we send: GOAWAY or RST with `errorCode`, or nothing when the wire is gone or it is the peer's own frame */
  wire: 'GOAWAY' | 'RST' | 'none'
  /** absent for FrameError, which carries its own code */
  errorCode?: ErrorCode
}

/**
 * The one table of typed errors: each error, the muxado code we answer with, and whether it
 * ends the session or only one stream.
 */
export const ERROR_TABLE: readonly ErrorRule[] = [
  { error: FrameError.name, scope: 'session', wire: 'GOAWAY' },
  { error: ProtocolViolationError.name, scope: 'session', wire: 'GOAWAY', errorCode: ErrorCode.ProtocolError },
  { error: TooManyUselessFramesError.name, scope: 'session', wire: 'GOAWAY', errorCode: ErrorCode.ProtocolError },
  { error: StreamChurnLimitError.name, scope: 'session', wire: 'GOAWAY', errorCode: ErrorCode.ProtocolError },
  // Go sends NoError on its own heartbeat timeout
  { error: HeartbeatTimeoutError.name, scope: 'session', wire: 'GOAWAY', errorCode: ErrorCode.NoError },
  { error: WriteTimeoutError.name, scope: 'session', wire: 'GOAWAY', errorCode: ErrorCode.InternalError },
  { error: UnexpectedEOFError.name, scope: 'session', wire: 'none' },
  // libp2p's cap on inbound streams waiting for a 'stream' listener: ours, not the peer's fault
  { error: 'MaxEarlyStreamsError', scope: 'session', wire: 'GOAWAY', errorCode: ErrorCode.InternalError },
  { error: 'ConnectionClosedError', scope: 'session', wire: 'none' },
  { error: FlowControlError.name, scope: 'stream', wire: 'RST', errorCode: ErrorCode.FlowControlError },
  { error: DataAfterFinError.name, scope: 'stream', wire: 'RST', errorCode: ErrorCode.StreamClosed },
  // libp2p's read or write buffer cap
  { error: 'StreamBufferError', scope: 'stream', wire: 'RST', errorCode: ErrorCode.Cancel },
  { error: 'StreamResetError', scope: 'stream', wire: 'none' },
  { error: RemoteGoAwayError.name, scope: 'stream', wire: 'none' },
  // thrown by createStream; nothing goes on the wire and the session carries on
  { error: StreamIdsExhaustedError.name, scope: 'stream', wire: 'none' },
  // libp2p-muxado/net: a stream beyond the session's accept backlog is refused, the session carries on
  { error: 'AcceptBacklogFullError', scope: 'stream', wire: 'RST', errorCode: ErrorCode.RefusedStream },
  // libp2p-muxado/net: session.destroy() without an error ends the session as Go's Close() does
  { error: 'SessionDestroyedError', scope: 'session', wire: 'GOAWAY', errorCode: ErrorCode.NoError },
  // libp2p-muxado/net: the connection ended without a GOAWAY
  { error: 'ConnectionLostError', scope: 'session', wire: 'none' }
]

const rules = new Map(ERROR_TABLE.map(rule => [rule.error, rule]))

/** The code a GOAWAY carries when the session ends with `err`; errors outside the table are InternalError */
export function goawayCode (err: Error): ErrorCode {
  if (err instanceof FrameError) {
    return err.errorCode
  }
  const rule = rules.get(err.name)
  return rule?.wire === 'GOAWAY' && rule.errorCode != null ? rule.errorCode : ErrorCode.InternalError
}

/** The code an RST carries when we reset a stream for `err`; anything not in the table is a Cancel */
export function streamResetCode (err: Error): ErrorCode {
  const rule = rules.get(err.name)
  return rule?.wire === 'RST' && rule.errorCode != null ? rule.errorCode : ErrorCode.Cancel
}
