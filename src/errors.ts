import { ConnectionClosedError, StreamBufferError, StreamResetError } from '@libp2p/interface'
import { MaxEarlyStreamsError } from '@libp2p/utils'
import { ErrorCode, errorCodeName } from './protocol/constants.ts'
import { FrameError } from './protocol/frame-error.ts'

export { FrameError }

/** A session fault ends every stream; a stream fault resets only its stream */
export type ErrorScope = 'session' | 'stream'

/** An error class whose statics say what it ends and the code of our GOAWAY or RST (none when absent) */
export interface WireErrorClass {
  new (...args: any[]): Error
  readonly scope: ErrorScope
  readonly wireCode?: ErrorCode
}

/** The peer broke a session rule (a SYN id out of order, a frame for an id never assigned) */
export class ProtocolViolationError extends Error {
  static name = 'ProtocolViolationError'
  static readonly scope = 'session'
  static readonly wireCode = ErrorCode.ProtocolError
  name = 'ProtocolViolationError'
}

/** The peer sent more DATA than the stream's window allowed */
export class FlowControlError extends Error {
  static name = 'FlowControlError'
  static readonly scope = 'stream'
  static readonly wireCode = ErrorCode.FlowControlError
  name = 'FlowControlError'
}

/** The peer sent DATA on a stream after its FIN */
export class DataAfterFinError extends Error {
  static name = 'DataAfterFinError'
  static readonly scope = 'stream'
  static readonly wireCode = ErrorCode.StreamClosed
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
  static readonly scope = 'stream'
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
  static readonly scope = 'session'
  // Go sends NoError on its own heartbeat timeout
  static readonly wireCode = ErrorCode.NoError
  name = 'HeartbeatTimeoutError'
}

/** Every 31-bit stream id of our parity has been used (thrown by createStream; the session carries on) */
export class StreamIdsExhaustedError extends Error {
  static name = 'StreamIdsExhaustedError'
  static readonly scope = 'stream'
  name = 'StreamIdsExhaustedError'
}

/** The peer sent more frames that do nothing (empty DATA, frames for closed streams) than the budget allows */
export class TooManyUselessFramesError extends Error {
  static name = 'TooManyUselessFramesError'
  static readonly scope = 'session'
  static readonly wireCode = ErrorCode.ProtocolError
  name = 'TooManyUselessFramesError'
}

/** Streams were opened and reset faster than the budget allows (rapid reset, MadeYouReset) */
export class StreamChurnLimitError extends Error {
  static name = 'StreamChurnLimitError'
  static readonly scope = 'session'
  static readonly wireCode = ErrorCode.ProtocolError
  name = 'StreamChurnLimitError'
}

/** The connection accepted no data for too long: the peer stopped reading */
export class WriteTimeoutError extends Error {
  static name = 'WriteTimeoutError'
  static readonly scope = 'session'
  static readonly wireCode = ErrorCode.InternalError
  name = 'WriteTimeoutError'
}

/** The connection ended in the middle of a frame */
export class UnexpectedEOFError extends Error {
  static name = 'UnexpectedEOFError'
  static readonly scope = 'session'
  name = 'UnexpectedEOFError'
}

type ErrorClass = abstract new (...args: any[]) => Error

export interface ErrorRule {
  error: ErrorClass
  scope: ErrorScope
  /** GOAWAY (session) or RST (stream) with `wireCode`, or nothing; FrameError's carries its own code */
  wire: 'GOAWAY' | 'RST' | 'none'
  wireCode?: ErrorCode
}

const rules = new Map<ErrorClass, ErrorRule>()

function addRule (error: ErrorClass, scope: ErrorScope, wireCode?: ErrorCode): void {
  const sends = wireCode != null || error === FrameError
  rules.set(error, { error, scope, wire: sends ? (scope === 'session' ? 'GOAWAY' : 'RST') : 'none', wireCode })
}

/** Put error classes in the table by their `scope` and `wireCode`; libp2p-muxado/net registers its own */
export function registerWireErrors (...classes: WireErrorClass[]): void {
  for (const error of classes) { addRule(error, error.scope, error.wireCode) }
}

addRule(FrameError, 'session')
registerWireErrors(ProtocolViolationError, TooManyUselessFramesError, StreamChurnLimitError, HeartbeatTimeoutError,
  WriteTimeoutError, UnexpectedEOFError, FlowControlError, DataAfterFinError, RemoteGoAwayError, StreamIdsExhaustedError)
// libp2p's errors cannot carry our statics. Its cap on streams waiting for a 'stream' listener
// is ours to answer for, not the peer's fault; its read or write buffer cap resets the stream.
addRule(MaxEarlyStreamsError, 'session', ErrorCode.InternalError)
addRule(ConnectionClosedError, 'session')
addRule(StreamBufferError, 'stream', ErrorCode.Cancel)
addRule(StreamResetError, 'stream')

/** Every typed error, what it ends and what we send for it */
export function errorTable (): ErrorRule[] {
  return [...rules.values()]
}

/** The rule of the error's class, or of a class it extends (a StreamResetByPeerError is a StreamResetError) */
function ruleFor (err: Error): ErrorRule | undefined {
  return [...rules.values()].find(rule => err instanceof rule.error)
}

/** The code a GOAWAY carries when the session ends with `err`; errors outside the table are InternalError */
export function goawayCode (err: Error): ErrorCode {
  if (err instanceof FrameError) { return err.errorCode }
  const rule = ruleFor(err)
  return rule?.wire === 'GOAWAY' && rule.wireCode != null ? rule.wireCode : ErrorCode.InternalError
}

/** The code an RST carries when we reset a stream for `err`; anything not in the table is a Cancel */
export function streamResetCode (err: Error): ErrorCode {
  const rule = ruleFor(err)
  return rule?.wire === 'RST' && rule.wireCode != null ? rule.wireCode : ErrorCode.Cancel
}
