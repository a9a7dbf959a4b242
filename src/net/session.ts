import { EventEmitter } from 'node:events'
import { MuxerClosedError } from '@libp2p/interface'
import { resolveConfig } from '../config.ts'
import { MuxadoMuxer } from '../muxer.ts'
import { ErrorCode } from '../protocol/constants.ts'
import { AcceptQueue } from './accept-queue.ts'
import { MuxadoDuplex } from './duplex.ts'
import { AcceptBacklogFullError, ConnectionLostError, SessionDestroyedError } from './errors.ts'
import { SocketConnection } from './socket-connection.ts'
import type { MuxadoInit } from '../config.ts'
import type { Role } from '../muxer.ts'
import type { MuxadoStream } from '../stream.ts'
import type { MuxadoDuplexOptions } from './duplex.ts'
import type { StreamCloseEvent } from '@libp2p/interface'
import type { Duplex } from 'node:stream'

export interface SessionOptions extends MuxadoInit, MuxadoDuplexOptions {
  /**
   * Streams the peer opened that wait for `accept()`. Beyond this, new streams are refused with
   * RST RefusedStream and the session carries on (Go's fixed backlog of 100 blocks its whole reader
   * instead). Each waiting stream holds at most its 64 KiB window of data.
   *
   * @default 100
   */
  acceptBacklog?: number

  /**
   * Milliseconds `close()` waits for streams to flush and the socket to close before it resets
   * whatever is left; also how long an aborted session waits for its GOAWAY to go out.
   *
   * @default 5000
   */
  closeTimeout?: number
}

export interface CreateSessionOptions extends SessionOptions {
  /** `'client'` for the side that dialed (Go's `muxado.Client`), `'server'` for the side that accepted (`muxado.Server`) */
  role: Role
}

export interface OpenOptions extends MuxadoDuplexOptions {
  /**
   * An opaque 32-bit type sent in the SYN (Go's `OpenStream(priority, streamType, fin)`);
   * the peer reads it as `StreamType()`. 0 (the default) opens an untyped stream, as `Open()`.
   * Values from 0xFFFFFEFF up are reserved for muxado extensions.
   */
  streamType?: number
}

export interface AcceptOptions {
  /** stop waiting; the returned promise rejects with the signal's reason */
  signal?: AbortSignal
}

export interface SessionEvents {
  /**
   * The session ended. `reason` is undefined for an orderly end: `close()` or `destroy()`
   * without an error here, or a GOAWAY NoError from the peer. Otherwise it says why: a
   * `HeartbeatTimeoutError` (dead peer), the socket's error (`ECONNRESET`), a
   * `RemoteGoAwayError` with the peer's error code, a protocol error, or a
   * `ConnectionLostError` when the connection ended without a GOAWAY.
   */
  close: [reason?: Error]
}

const DEFAULT_ACCEPT_BACKLOG = 100
const DEFAULT_CLOSE_TIMEOUT = 5000

/** The core muxer, plus what the session needs to know: why it was aborted */
class SessionMuxer extends MuxadoMuxer {
  abortReason?: Error
  onAbort?: () => void

  abort (err: Error): void {
    if (this.status === 'closed') { return }
    this.abortReason ??= err
    super.abort(err)
    this.onAbort?.()
  }
}

/**
 * One muxado session over one connection: the Node.js counterpart of Go's `muxado.Session`.
 * Either side opens streams with `open()` and takes the peer's with `accept()` or
 * `for await (const stream of session)`; every stream is a `MuxadoDuplex`.
 *
 * The session answers the peer's heartbeats and pings it (every 3 s by default, see
 * `heartbeatInterval`): `rtt` is the last round trip, and a peer silent for `heartbeatTimeout`
 * ends the session with a `HeartbeatTimeoutError`. The `'close'` event says when and why the
 * session ended.
 */
export class Session extends EventEmitter<SessionEvents> implements AsyncIterable<MuxadoDuplex> {
  /** `'client'` opens odd stream ids, `'server'` even ones */
  readonly role: Role
  /** The socket the session runs over */
  readonly socket: Duplex
  /** The socket as a libp2p `MessageStream` (the muxer's connection) */
  readonly connection: SocketConnection
  /** The libp2p stream muxer underneath, for its `streams`, `status` and libp2p-level API */
  readonly muxer: MuxadoMuxer
  /** Why the session ended (see the `'close'` event); undefined while open or after an orderly end */
  closeReason?: Error
  private readonly sessionMuxer: SessionMuxer
  private readonly acceptBacklog: number
  private readonly closeTimeout: number
  private readonly duplexOptions: MuxadoDuplexOptions
  private readonly backlog = new AcceptQueue<MuxadoStream>()
  private readonly closedPromise: Promise<void>
  private isClosed = false
  private closedLocally = false
  private forceTimer?: ReturnType<typeof setTimeout>

  /**
   * Prefer `createSession()`, `dial()` or `listen()`.
   *
   * @param socket - a connected socket or byte `Duplex`; the session owns it from now on
   * @param options - the role, muxado options (see `MuxadoInit`) and session options
   */
  constructor (socket: Duplex, options: CreateSessionOptions) {
    super()
    const { role, acceptBacklog, closeTimeout, highWaterMark, readableHighWaterMark, writableHighWaterMark, ...init } = options
    if (role !== 'client' && role !== 'server') {
      throw new TypeError(`muxado: role must be 'client' or 'server', got ${String(role)}`)
    }
    if (socket.destroyed) {
      throw new Error('muxado: the socket is already destroyed')
    }
    this.role = role
    this.socket = socket
    this.acceptBacklog = acceptBacklog ?? DEFAULT_ACCEPT_BACKLOG
    this.closeTimeout = closeTimeout ?? DEFAULT_CLOSE_TIMEOUT
    this.duplexOptions = { highWaterMark, readableHighWaterMark, writableHighWaterMark }
    // bad options throw before the socket is touched
    resolveConfig(init)

    this.connection = new SocketConnection({ socket, direction: role === 'client' ? 'outbound' : 'inbound' })
    this.sessionMuxer = new SessionMuxer(this.connection, init)
    this.muxer = this.sessionMuxer
    this.sessionMuxer.onAbort = () => { this.forceCloseLater() }
    this.closedPromise = new Promise(resolve => {
      this.connection.addEventListener('close', (evt) => {
        this.onConnectionClose(evt)
        resolve()
      }, { once: true })
    })
    // attached before the socket can deliver a byte: no stream ever waits as an "early stream"
    this.muxer.addEventListener('stream', (evt) => { this.onRemoteStream(evt.detail) })
  }

  /** ms taken by the last heartbeat round trip; undefined until one completes or with heartbeats off */
  get rtt (): number | undefined {
    return this.muxer.rtt
  }

  /** True once the session has ended and `'close'` was emitted */
  get closed (): boolean {
    return this.isClosed
  }

  /** The peer's address, when the socket has one */
  get remoteAddress (): string | undefined {
    return (this.socket as { remoteAddress?: string }).remoteAddress
  }

  /** The peer's port, when the socket has one */
  get remotePort (): number | undefined {
    return (this.socket as { remotePort?: number }).remotePort
  }

  /**
   * Open a stream to the peer. The SYN goes out at once; data written before the peer accepts
   * the stream waits in the peer's 64 KiB window. Rejects once the session is closed or the peer
   * sent GOAWAY.
   */
  async open (options: OpenOptions = {}): Promise<MuxadoDuplex> {
    const { streamType, ...duplexOptions } = options
    if (this.isClosed) {
      throw this.closeReason ?? new MuxerClosedError('The muxado session is closed')
    }
    const stream = await this.muxer.createStream({ streamType })
    return this.wrap(stream, duplexOptions)
  }

  /**
   * The next stream the peer opened. Rejects when the session has closed (with its
   * `closeReason`, or `MuxerClosedError` after an orderly end).
   */
  async accept (options: AcceptOptions = {}): Promise<MuxadoDuplex> {
    return this.wrap(await this.backlog.accept(options.signal))
  }

  /** Every stream the peer opens, until the session closes (then the loop just ends; see `closeReason`) */
  async * [Symbol.asyncIterator] (): AsyncGenerator<MuxadoDuplex, void, undefined> {
    for await (const stream of this.backlog) { yield this.wrap(stream) }
  }

  /**
   * End the session in order: half-close every stream once its data is sent, send GOAWAY, close
   * the socket. After `closeTimeout` ms whatever is left is reset. Resolves once the socket is
   * closed and `'close'` was emitted.
   */
  async close (): Promise<void> {
    if (!this.isClosed && this.muxer.status === 'open') {
      this.closedLocally = true
      try {
        await this.muxer.close({ signal: AbortSignal.timeout(this.closeTimeout) })
      } catch (err: any) {
        this.muxer.abort(err)
        this.connection.abort(err)
      }
    }
    await this.closedPromise
  }

  /**
   * End the session now: a GOAWAY goes out with the error's muxado code (InternalError for
   * errors outside muxado's table), the socket is closed and every stream fails with `err`.
   * Without `err` the streams close quietly and the `'close'` reason is undefined.
   */
  destroy (err?: Error): void {
    if (this.isClosed) { return }
    if (err == null) {
      this.closedLocally = true
      this.muxer.abort(new SessionDestroyedError('The muxado session was destroyed'))
    } else {
      this.muxer.abort(err)
    }
  }

  private wrap (stream: MuxadoStream, options: MuxadoDuplexOptions = {}): MuxadoDuplex {
    return new MuxadoDuplex(stream, { ...this.duplexOptions, ...definedOnly(options) }, this.socket)
  }

  private onRemoteStream (stream: MuxadoStream): void {
    if (this.backlog.handOff(stream)) { return }
    if (this.backlog.length >= this.acceptBacklog) {
      stream.abort(new AcceptBacklogFullError(`${this.backlog.length} streams are waiting for accept()`))
      return
    }
    this.backlog.keep(stream)
    stream.addEventListener('close', () => { this.backlog.drop(stream) }, { once: true })
  }

  /** After an abort the GOAWAY gets `closeTimeout` ms to go out; then the socket is destroyed */
  private forceCloseLater (): void {
    if (this.isClosed || this.forceTimer != null) { return }
    this.forceTimer = setTimeout(() => {
      this.connection.abort(this.sessionMuxer.abortReason ?? new Error('The muxado session was aborted'))
    }, this.closeTimeout)
    this.forceTimer.unref?.()
  }

  private onConnectionClose (evt: StreamCloseEvent): void {
    clearTimeout(this.forceTimer)
    this.isClosed = true
    this.closeReason = this.closedLocally ? undefined : this.reasonFor(evt)
    this.backlog.close(this.closeReason ?? new MuxerClosedError('The muxado session is closed'))
    this.emit('close', this.closeReason)
  }

  private reasonFor (evt: StreamCloseEvent): Error | undefined {
    const aborted = this.sessionMuxer.abortReason
    if (aborted != null) { return aborted }
    const goaway = this.muxer.remoteGoAway
    if (goaway != null) {
      // Go closes TCP right after its GOAWAY, so an ECONNRESET may follow it
      return goaway.errorCode === ErrorCode.NoError ? undefined : goaway
    }
    return evt.error ?? new ConnectionLostError('The connection closed without a GOAWAY')
  }
}

function definedOnly<T extends object> (options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>
}

/**
 * Run a muxado session over a connected socket: a `net.Socket`, a `tls.TLSSocket`, or any byte
 * `Duplex`. `role: 'client'` for the side that dialed (odd stream ids), `'server'` for the side
 * that accepted (even ids); the two ends must differ.
 */
export function createSession (socket: Duplex, options: CreateSessionOptions): Session {
  return new Session(socket, options)
}
