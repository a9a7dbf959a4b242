import { EventEmitter } from 'node:events'
import net from 'node:net'
import tls from 'node:tls'
import { AcceptQueue } from './accept-queue.ts'
import { ServerClosedError } from './errors.ts'
import { createSession } from './session.ts'
import type { AcceptOptions, Session, SessionOptions } from './session.ts'
import type { Duplex } from 'node:stream'

export interface DialOptions extends SessionOptions {
  /** @default 'localhost' */
  host?: string
  port: number
  /**
   * Dial over TLS: `tls.connect` options (`ca`, `servername`, `cert`/`key` for client
   * certificates, `rejectUnauthorized`, ...), or `true` for the defaults. The session starts once
   * the handshake has succeeded; a failed handshake rejects `dial()`.
   */
  tls?: tls.ConnectionOptions | boolean
  /** abort the connection attempt (for a connect timeout, `AbortSignal.timeout(ms)`) */
  signal?: AbortSignal
}

export interface ListenOptions extends SessionOptions {
  /** @default all interfaces, as `net.Server.listen` */
  host?: string
  /** @default 0 (a free port; see `server.address()`) */
  port?: number
  /** Listen for TLS: `tls.createServer` options (`key`, `cert`, `ca`, `requestCert`, ...) */
  tls?: tls.TlsOptions
  /**
   * Sessions kept for `accept()`. When it is full, a new session is closed at once if the
   * server has no `'session'` listener; with one, the oldest queued session is dropped from
   * the queue (not closed: the listener has it).
   *
   * @default 128
   */
  sessionBacklog?: number
}

async function connected (socket: net.Socket, event: 'connect' | 'secureConnect', signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      socket.off(event, onConnect)
      socket.off('error', onError)
      signal?.removeEventListener('abort', onAbort)
    }
    const onConnect = (): void => {
      cleanup()
      resolve()
    }
    const onError = (err: Error): void => {
      cleanup()
      socket.destroy()
      reject(err)
    }
    const onAbort = (): void => {
      cleanup()
      socket.destroy()
      reject(signal?.reason)
    }
    socket.once(event, onConnect)
    socket.once('error', onError)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Connect to a muxado server (Go's `muxado.Dial` / `muxado.DialTLS`) and run the client side of
 * a session over the connection. Rejects with the socket's error (`ECONNREFUSED`, a TLS
 * verification error, ...) if the connection or the TLS handshake fails.
 */
export async function dial (options: DialOptions): Promise<Session> {
  const { host = 'localhost', port, tls: tlsOptions, signal, ...sessionOptions } = options
  signal?.throwIfAborted()
  let socket: net.Socket
  if (tlsOptions != null && tlsOptions !== false) {
    socket = tls.connect({ host, port, ...(tlsOptions === true ? {} : tlsOptions) })
    await connected(socket, 'secureConnect', signal)
  } else {
    socket = net.connect({ host, port })
    await connected(socket, 'connect', signal)
  }
  socket.setNoDelay(true)
  return createSession(socket, { ...sessionOptions, role: 'client' })
}

export interface ServerEvents {
  /** a new session, once its connection (and TLS handshake) is up */
  session: [session: Session]
  /** a TLS handshake with a client failed; the connection is dropped and the server goes on */
  clientError: [err: Error, socket: Duplex]
  /** the listening socket failed */
  error: [err: Error]
  /** `close()` was called: no more sessions */
  close: []
}

/**
 * A muxado listener (Go's `muxado.Listen` / `muxado.ListenTLS`): every connection it accepts
 * runs the server side of a session. Take sessions with `for await (const session of server)`,
 * `accept()`, or the `'session'` event.
 */
export class Server extends EventEmitter<ServerEvents> implements AsyncIterable<Session> {
  /** The `net.Server` (or `tls.Server`) underneath */
  readonly server: net.Server
  /** Sessions this server accepted that have not closed yet */
  readonly sessions = new Set<Session>()
  private readonly options: SessionOptions
  private readonly sessionBacklog: number
  private readonly backlog = new AcceptQueue<Session>()
  private isClosed = false

  constructor (options: Omit<ListenOptions, 'host' | 'port'> = {}) {
    super()
    const { tls: tlsOptions, sessionBacklog, ...sessionOptions } = options
    this.options = sessionOptions
    this.sessionBacklog = sessionBacklog ?? 128
    if (tlsOptions != null) {
      const server = tls.createServer(tlsOptions)
      server.on('secureConnection', (socket) => { this.onConnection(socket) })
      server.on('tlsClientError', (err, socket) => {
        if (this.listenerCount('clientError') > 0) { this.emit('clientError', err, socket) }
      })
      this.server = server
    } else {
      this.server = net.createServer((socket) => { this.onConnection(socket) })
    }
    this.server.on('error', (err) => {
      if (this.listenerCount('error') > 0) { this.emit('error', err) }
    })
  }

  /** Start listening; resolves once the port is bound */
  async listen (port = 0, host?: string): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => { reject(err) }
      this.server.once('error', onError)
      this.server.listen(port, host, () => {
        this.server.off('error', onError)
        resolve()
      })
    })
    return this
  }

  /** The bound address, as `net.Server.address()` */
  address (): net.AddressInfo {
    const address = this.server.address()
    if (address == null || typeof address === 'string') {
      throw new Error('muxado: the server is not listening on a TCP port')
    }
    return address
  }

  /** The next session. Rejects with `ServerClosedError` after `close()`. */
  async accept (options: AcceptOptions = {}): Promise<Session> {
    return this.backlog.accept(options.signal)
  }

  /** Every new session until `close()` */
  async * [Symbol.asyncIterator] (): AsyncGenerator<Session, void, undefined> {
    yield * this.backlog
  }

  /**
   * Stop listening. As Go's `Listener.Close()`, sessions already handed out go on (see
   * `sessions` to close them). Sessions still queued for `accept()` are closed unless the
   * server has `'session'` listeners, which have them.
   */
  async close (): Promise<void> {
    if (this.isClosed) { return }
    this.isClosed = true
    this.server.close()
    const queued = this.backlog.close(new ServerClosedError('The muxado server is closed'))
    if (this.listenerCount('session') === 0) {
      await Promise.all(queued.map(async session => { await session.close() }))
    }
    this.emit('close')
  }

  private onConnection (socket: net.Socket): void {
    if (this.isClosed) {
      socket.destroy()
      return
    }
    socket.setNoDelay(true)
    let session: Session
    try {
      session = createSession(socket, { ...this.options, role: 'server' })
    } catch {
      socket.destroy()
      return
    }
    this.sessions.add(session)
    session.once('close', () => { this.sessions.delete(session) })

    if (!this.backlog.handOff(session)) { this.enqueue(session) }
    this.emit('session', session)
  }

  /**
   * Keep a session for `accept()`. When the backlog is full, a server with `'session'`
   * listeners forgets the oldest queued session (the listeners have it); one without closes
   * the new session, which nobody would ever see.
   */
  private enqueue (session: Session): void {
    if (this.backlog.length >= this.sessionBacklog) {
      if (this.listenerCount('session') === 0) {
        void session.close()
        return
      }
      this.backlog.drop()
    }
    this.backlog.keep(session)
    session.once('close', () => { this.backlog.drop(session) })
  }
}

/**
 * Listen for muxado connections (Go's `muxado.Listen` / `muxado.ListenTLS`); resolves once the
 * port is bound. Every connection runs the server side of a session.
 */
export async function listen (options: ListenOptions = {}): Promise<Server> {
  const { host, port = 0, ...rest } = options
  return new Server(rest).listen(port, host)
}
