/**
 * Real TCP sockets as libp2p connections, for the interop tests.
 *
 * A `node:net` socket is wrapped with `@libp2p/tcp`'s own socket-to-connection code (the
 * `MultiaddrConnection` a libp2p node would hand the muxer after the upgrade, minus encryption).
 * That module is not in `@libp2p/tcp`'s package exports, so it is imported by file URL.
 *
 * `SocketConnection` (libp2p-muxado/net) is not a drop-in for it here: `@libp2p/tcp` writes each
 * buffer of a batch separately and stops at the first write the socket refuses, leaving the rest
 * in the connection's write buffer, where `SocketConnection` corks the socket and hands it the
 * whole batch; `@libp2p/tcp` also sets a 2-minute idle timeout and aborts on a socket closed by
 * an error. These suites pin the muxer against Go over the connection libp2p users get (and the
 * write path tells `@libp2p/tcp` connections apart); `test/net/` covers `SocketConnection`
 * against Go.
 */

import net from 'node:net'
import { defaultLogger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import { pEvent } from 'p-event'
import { muxado } from '../../src/index.ts'
import type { MuxadoInit, MuxadoMuxer, MuxadoStream } from '../../src/index.ts'
import type { MultiaddrConnection, MessageStreamDirection, Logger } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The init of `toMultiaddrConnection` (node_modules/@libp2p/tcp/dist/src/socket-to-conn.d.ts) */
interface TcpSocketConnectionInit {
  socket: net.Socket
  direction: MessageStreamDirection
  log: Logger
  remoteAddr?: Multiaddr
  localAddr?: Multiaddr
  inactivityTimeout?: number
}

type ToMultiaddrConnection = (init: TcpSocketConnectionInit) => MultiaddrConnection

// '@libp2p/tcp' resolves to .../@libp2p/tcp/dist/src/index.js; socket-to-conn.js sits next to it
const socketToConnUrl = new URL('./socket-to-conn.js', import.meta.resolve('@libp2p/tcp'))
const { toMultiaddrConnection } = await import(socketToConnUrl.href) as { toMultiaddrConnection: ToMultiaddrConnection }

const logger = defaultLogger()

/** Everything the tests create, torn down by `cleanupTcp()` in afterEach */
const muxers = new Set<MuxadoMuxer>()
const sockets = new Set<net.Socket>()
const servers = new Set<net.Server>()

function track (socket: net.Socket): net.Socket {
  sockets.add(socket)
  socket.once('close', () => sockets.delete(socket))
  return socket
}

/** Wrap a connected socket as a libp2p `MultiaddrConnection` with the given direction */
export function socketToMaConn (socket: net.Socket, direction: MessageStreamDirection): MultiaddrConnection {
  const remoteAddr = multiaddr(`/ip4/${socket.remoteAddress ?? '127.0.0.1'}/tcp/${socket.remotePort ?? 0}`)
  return toMultiaddrConnection({
    socket,
    direction,
    remoteAddr,
    log: logger.forComponent(`muxado:interop:tcp:${direction}`)
  })
}

export interface TsSession {
  muxer: MuxadoMuxer
  socket: net.Socket
  maConn: MultiaddrConnection
}

export type StreamHandler = (stream: MuxadoStream, muxer: MuxadoMuxer) => void

/**
 * A muxer over a connected socket: outbound = client (odd ids), inbound = server (even ids).
 * `onStream` is attached before the socket can deliver a byte, so no stream waits as "early".
 */
export function sessionOverSocket (socket: net.Socket, direction: MessageStreamDirection, init: MuxadoInit, onStream?: StreamHandler): TsSession {
  const maConn = socketToMaConn(socket, direction)
  const muxer = muxado(init)().createStreamMuxer(maConn)
  muxers.add(muxer)
  if (onStream != null) {
    muxer.addEventListener('stream', (evt) => { onStream(evt.detail, muxer) })
  }
  return { muxer, socket, maConn }
}

/** Dial 127.0.0.1:port and run a client (outbound) muxer over the socket */
export async function dialMuxer (port: number, init: MuxadoInit = {}, onStream?: StreamHandler): Promise<TsSession> {
  const socket = track(net.connect({ host: '127.0.0.1', port }))
  socket.setNoDelay(true)
  await pEvent(socket, 'connect', { rejectionEvents: ['error'], timeout: 5000 })
  return sessionOverSocket(socket, 'outbound', init, onStream)
}

export interface TsListener {
  port: number
  /** resolves with the server (inbound) muxer of the next accepted connection */
  nextSession(timeoutMs?: number): Promise<TsSession>
  close(): void
}

/** Listen on an ephemeral loopback port, tracked for cleanup; resolves with the port */
async function listenOnLoopback (server: net.Server): Promise<number> {
  servers.add(server)
  server.listen(0, '127.0.0.1')
  await pEvent(server, 'listening', { rejectionEvents: ['error'], timeout: 5000 })
  const address = server.address()
  if (address == null || typeof address === 'string') { throw new Error('no TCP port') }
  return address.port
}

function closeServer (server: net.Server): void {
  server.close()
  servers.delete(server)
}

/** Listen on 127.0.0.1 and run a server (inbound) muxer over every accepted socket */
export async function listenMuxer (init: MuxadoInit = {}, onStream?: StreamHandler): Promise<TsListener> {
  const accepted: TsSession[] = []
  const waiting: Array<(session: TsSession) => void> = []
  const server = net.createServer((socket) => {
    track(socket)
    socket.setNoDelay(true)
    const session = sessionOverSocket(socket, 'inbound', init, onStream)
    const resolve = waiting.shift()
    if (resolve != null) { resolve(session) } else { accepted.push(session) }
  })
  return {
    port: await listenOnLoopback(server),
    nextSession: async (timeoutMs = 10_000) => {
      const session = accepted.shift()
      if (session != null) { return session }
      return new Promise<TsSession>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error(`no connection within ${timeoutMs} ms`)) }, timeoutMs)
        waiting.push((s) => { clearTimeout(timer); resolve(s) })
      })
    },
    close: () => { closeServer(server) }
  }
}

/** A plain TCP server whose sockets the test drives by hand (a peer that misbehaves) */
export async function listenRaw (onSocket: (socket: net.Socket) => void): Promise<{ port: number, close(): void }> {
  const server = net.createServer((socket) => { onSocket(track(socket)) })
  return {
    port: await listenOnLoopback(server),
    close: () => { closeServer(server) }
  }
}

export interface RecordedChunk {
  /** 'c2s': from the side that connected to the proxy, 's2c': from the proxied server */
  dir: 'c2s' | 's2c'
  at: number
  data: Uint8Array
}

export interface RecordingProxy {
  port: number
  chunks: RecordedChunk[]
  /** all bytes seen in one direction, concatenated */
  bytes(dir: 'c2s' | 's2c'): Uint8Array
  close(): void
}

/**
 * A TCP proxy to 127.0.0.1:targetPort that records every byte in both directions, for looking
 * at the frames on the wire. One connection at a time is enough for these tests.
 */
export async function recordingProxy (targetPort: number): Promise<RecordingProxy> {
  const chunks: RecordedChunk[] = []
  const start = Date.now()
  const server = net.createServer((client) => {
    track(client)
    const upstream = track(net.connect({ host: '127.0.0.1', port: targetPort }))
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    const pipe = (from: net.Socket, to: net.Socket, dir: 'c2s' | 's2c'): void => {
      from.on('data', (data: Buffer) => {
        chunks.push({ dir, at: Date.now() - start, data: new Uint8Array(data) })
        to.write(data)
      })
      from.on('end', () => { to.end() })
      from.on('error', () => { to.destroy() })
      from.on('close', () => { if (!to.writableEnded) { to.end() } })
    }
    pipe(client, upstream, 'c2s')
    pipe(upstream, client, 's2c')
  })
  return {
    port: await listenOnLoopback(server),
    chunks,
    bytes: (dir) => Buffer.concat(chunks.filter(c => c.dir === dir).map(c => c.data)),
    close: () => { closeServer(server) }
  }
}

/** Abort every muxer, destroy every socket and close every server the tests created */
export function cleanupTcp (): void {
  for (const muxer of muxers) {
    try {
      if (muxer.status !== 'closed') { muxer.abort(new Error('test cleanup')) }
    } catch {
      // already torn down
    }
  }
  muxers.clear()
  for (const socket of sockets) { socket.destroy() }
  sockets.clear()
  for (const server of servers) { server.close() }
  servers.clear()
}
