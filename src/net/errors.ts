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
  name = 'SessionDestroyedError'
}

/** A stream the peer opened arrived while `acceptBacklog` streams were already waiting for `accept()` */
export class AcceptBacklogFullError extends Error {
  static name = 'AcceptBacklogFullError'
  name = 'AcceptBacklogFullError'
}

/** The connection ended without a GOAWAY: the peer vanished, or dropped the connection */
export class ConnectionLostError extends Error {
  static name = 'ConnectionLostError'
  name = 'ConnectionLostError'
}

/** `server.accept()` after `server.close()` */
export class ServerClosedError extends Error {
  static name = 'ServerClosedError'
  name = 'ServerClosedError'
}
