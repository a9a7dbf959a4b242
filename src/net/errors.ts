import { registerWireErrors } from '../errors.ts'
import { ErrorCode } from '../protocol/constants.ts'

/** The stream closed while a write was waiting for the peer's window */
export class StreamClosedError extends Error {
  static name = 'StreamClosedError'
  name = 'StreamClosedError'
}

/**
 * The session was destroyed without an error. Its streams end quietly (a `'close'` without
 * `'error'`), as sockets do when they are destroyed.
 */
export class SessionDestroyedError extends Error {
  static name = 'SessionDestroyedError'
  // as Go's Close()
  static readonly scope = 'session'
  static readonly wireCode = ErrorCode.NoError
  name = 'SessionDestroyedError'
}

/** A stream the peer opened arrived while `acceptBacklog` streams were already waiting for `accept()` */
export class AcceptBacklogFullError extends Error {
  static name = 'AcceptBacklogFullError'
  // the stream is refused, the session carries on
  static readonly scope = 'stream'
  static readonly wireCode = ErrorCode.RefusedStream
  name = 'AcceptBacklogFullError'
}

/** The connection ended without a GOAWAY: the peer vanished, or dropped the connection */
export class ConnectionLostError extends Error {
  static name = 'ConnectionLostError'
  static readonly scope = 'session'
  name = 'ConnectionLostError'
}

/** `server.accept()` after `server.close()` */
export class ServerClosedError extends Error {
  static name = 'ServerClosedError'
  name = 'ServerClosedError'
}

registerWireErrors(SessionDestroyedError, AcceptBacklogFullError, ConnectionLostError)
