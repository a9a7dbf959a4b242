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

export type FaultScope = 'session' | 'stream'

export interface FaultRule {
  /** what goes on the wire: GOAWAY with this code for a session fault, RST for a stream fault */
  errorCode: ErrorCode
  scope: FaultScope
}

/**
 * The one table of faults the peer can cause: each typed error, the muxado code we answer with,
 * and whether it ends the session or only the stream.
 */
export const FAULTS = new Map<string, FaultRule>([
  [FrameError.name, { errorCode: ErrorCode.ProtocolError, scope: 'session' }],
  [ProtocolViolationError.name, { errorCode: ErrorCode.ProtocolError, scope: 'session' }],
  [FlowControlError.name, { errorCode: ErrorCode.FlowControlError, scope: 'stream' }],
  [DataAfterFinError.name, { errorCode: ErrorCode.StreamClosed, scope: 'stream' }],
  // Go sends NoError on its own heartbeat timeout
  [HeartbeatTimeoutError.name, { errorCode: ErrorCode.NoError, scope: 'session' }]
])

/** The code a GOAWAY or RST carries for `err`: its own for framing errors, else the table's */
export function errorCodeFor (err: Error): ErrorCode {
  if (err instanceof FrameError) { return err.errorCode }
  return FAULTS.get(err.name)?.errorCode ?? ErrorCode.InternalError
}

/** The code an RST carries when we reset a stream for `err`: the table's for a stream fault, else Cancel */
export function streamResetCode (err: Error): ErrorCode {
  const rule = FAULTS.get(err.name)
  return rule?.scope === 'stream' ? rule.errorCode : ErrorCode.Cancel
}
