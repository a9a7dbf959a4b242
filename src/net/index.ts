/**
 * @packageDocumentation
 *
 * muxado for Node.js without libp2p: sessions over TCP, TLS or any connected `Duplex`, talking
 * to Go's `muxado.Dial` / `muxado.Listen`. Streams are Node.js `stream.Duplex`es
 * (`MuxadoDuplex`); the protocol work is done by the same `MuxadoMuxer` that libp2p uses.
 *
 * @example Client
 *
 * ```ts
 * import { dial } from 'libp2p-muxado/net'
 *
 * const session = await dial({ host: 'example.com', port: 1234 })
 * const stream = await session.open()
 * stream.end('hello')
 * for await (const chunk of stream) { process.stdout.write(chunk) }
 * await session.close()
 * ```
 *
 * @example Server
 *
 * ```ts
 * import { pipeline } from 'node:stream/promises'
 * import { listen } from 'libp2p-muxado/net'
 *
 * const server = await listen({ port: 1234 })
 * for await (const session of server) {
 *   void (async () => {
 *     for await (const stream of session) {
 *       pipeline(stream, stream).catch(() => {})   // echo
 *     }
 *   })()
 * }
 * ```
 */

export { dial, listen, Server } from './server.ts'
export type { DialOptions, ListenOptions, ServerEvents } from './server.ts'
export { createSession, Session } from './session.ts'
export type { AcceptOptions, CreateSessionOptions, OpenOptions, SessionEvents, SessionOptions } from './session.ts'
export type { Role } from '../muxer.ts'
export { MuxadoDuplex } from './duplex.ts'
export { AcceptBacklogFullError, ConnectionLostError, ServerClosedError, SessionDestroyedError, StreamClosedError } from './errors.ts'
export type { MuxadoDuplexOptions } from './duplex.ts'
export { SocketConnection } from './socket-connection.ts'
export type { SocketConnectionInit } from './socket-connection.ts'
export { serveHttp, MuxadoAgent } from './http.ts'
export type { MuxadoAgentOptions } from './http.ts'
export { HeartbeatTimeoutError, RemoteGoAwayError, StreamResetByPeerError } from '../errors.ts'
