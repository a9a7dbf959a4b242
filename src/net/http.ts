import http from 'node:http'
import type { MuxadoDuplex } from './duplex.ts'
import type { OpenOptions, Session } from './session.ts'
import type { Duplex } from 'node:stream'

/**
 * Serve HTTP over a muxado session: every stream the peer opens becomes a connection of
 * `server` (`server.emit('connection', stream)`), so one TCP or TLS connection carries any
 * number of concurrent requests. The `http.Server` need not listen anywhere. The Node
 * counterpart of Go's `http.Serve(session.NetListener(), handler)`.
 *
 * Resolves when the session has closed.
 */
export async function serveHttp (session: Session, server: http.Server): Promise<void> {
  for await (const stream of session) {
    server.emit('connection', stream)
  }
}

export interface MuxadoAgentOptions extends http.AgentOptions {
  /** options for every stream the agent opens (a `streamType`, buffer sizes) */
  streamOptions?: OpenOptions
}

/**
 * An `http.Agent` whose connections are muxado streams of one session: each request without a
 * free kept-alive stream opens a new stream, so many requests share one TCP or TLS connection.
 * Pass it as `agent` to `http.request()`/`http.get()` (or `fetch` libraries that take an
 * `http.Agent`). The request's host and port only fill the `Host` header.
 *
 * @example
 * ```ts
 * const agent = new MuxadoAgent(session)
 * http.get({ agent, path: '/hello' }, res => { res.pipe(process.stdout) })
 * ```
 */
export class MuxadoAgent extends http.Agent {
  readonly session: Session
  private readonly streamOptions?: OpenOptions

  constructor (session: Session, options: MuxadoAgentOptions = {}) {
    const { streamOptions, ...agentOptions } = options
    super(agentOptions)
    this.session = session
    this.streamOptions = streamOptions
  }

  /** Opens a muxado stream; the agent gets it through `callback` */
  createConnection (_options: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    this.session.open(this.streamOptions).then(
      (stream: MuxadoDuplex) => { callback?.(null, stream) },
      (err: Error) => { callback?.(err, undefined as unknown as Duplex) }
    )
    return undefined
  }
}
