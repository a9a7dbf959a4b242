/**
 * Connection pairs the scenarios run on: bare `node:net` loopback sockets, the same sockets
 * wrapped by `@libp2p/tcp`'s own maconn code, and a lean in-memory pair ("memlite"), which
 * delivers each piece of a send as its own event, or each send whole ("memwhole", as
 * `@libp2p/memory` does).
 */
import net from 'node:net'
import { logger } from '@libp2p/logger'
import { AbstractMultiaddrConnection } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { MultiaddrConnection } from '@libp2p/interface'
import type { SendResult } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'

export const TRANSPORTS = ['tcp', 'memlite', 'memwhole'] as const

export type TransportName = typeof TRANSPORTS[number]

export interface SocketPair {
  client: net.Socket
  server: net.Socket
}

/** A connected pair; `client` is the outbound (dialing) end */
export interface ConnPair {
  client: MultiaddrConnection
  server: MultiaddrConnection
}

/** One loopback listener per process; every run gets a fresh connection from it */
export class LoopbackServer {
  private readonly server: net.Server
  private readonly waiting: Array<(socket: net.Socket) => void> = []

  private constructor () {
    // the options @libp2p/tcp sets on its sockets
    this.server = net.createServer({ noDelay: true, allowHalfOpen: false }, socket => {
      this.waiting.shift()?.(socket)
    })
  }

  static async start (): Promise<LoopbackServer> {
    const s = new LoopbackServer()
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject)
      s.server.listen(0, '127.0.0.1', resolve)
    })
    return s
  }

  /** A connected pair; with `via`, the client dials that port (a link emulator relaying to us) */
  async connect (via?: number): Promise<SocketPair> {
    const accepted = new Promise<net.Socket>(resolve => { this.waiting.push(resolve) })
    const client = net.connect({ host: '127.0.0.1', port: via ?? this.port, noDelay: true, allowHalfOpen: false })
    await new Promise<void>((resolve, reject) => {
      client.once('connect', resolve)
      client.once('error', reject)
    })
    const server = await accepted
    server.setNoDelay(true)
    return { client, server }
  }

  get port (): number {
    return (this.server.address() as net.AddressInfo).port
  }

  async close (): Promise<void> {
    await new Promise<void>(resolve => { this.server.close(() => { resolve() }) })
  }
}

interface ToMaConnInit {
  socket: net.Socket
  direction: 'inbound' | 'outbound'
  log: ReturnType<typeof logger>
}

let toMaConn: ((init: ToMaConnInit) => MultiaddrConnection) | undefined

/**
 * `socket-to-conn.js` is not in the `exports` of `@libp2p/tcp`, so it is loaded by file URL next to the
 * package's resolved entry point: the exact code the TCP transport runs, with no adapter.
 */
async function loadToMultiaddrConnection (): Promise<(init: ToMaConnInit) => MultiaddrConnection> {
  if (toMaConn == null) {
    const url = new URL('./socket-to-conn.js', import.meta.resolve('@libp2p/tcp'))
    const mod = await import(url.href)
    toMaConn = mod.toMultiaddrConnection
  }
  return toMaConn as (init: ToMaConnInit) => MultiaddrConnection
}

export async function tcpPair (server: LoopbackServer, via?: number): Promise<ConnPair & { sockets: SocketPair }> {
  const wrap = await loadToMultiaddrConnection()
  const sockets = await server.connect(via)
  return {
    sockets,
    client: wrap({ socket: sockets.client, direction: 'outbound', log: logger('bench:tcp:client') }),
    server: wrap({ socket: sockets.server, direction: 'inbound', log: logger('bench:tcp:server') })
  }
}

/** Above this many undelivered bytes `send()` reports backpressure, like a socket's highWaterMark */
const MEMLITE_HIGH_WATER = 1024 * 1024

/**
 * The lean in-memory connection: queued bytes reach the other end in one microtask, with no
 * copying, timers or job queues, so the muxer's own cost dominates.
 */
class MemLiteConnection extends AbstractMultiaddrConnection {
  peer?: MemLiteConnection
  /** deliver what each `send()` handed over as one event, as `@libp2p/memory` does, not piece by piece */
  wholeSends = false
  private queue: Array<Uint8Array | Uint8ArrayList> = []
  private queued = 0
  private flushScheduled = false
  private blocked = false

  sendData (data: Uint8ArrayList): SendResult {
    if (this.wholeSends) {
      this.queue.push(data)
    } else {
      for (const buf of data) { this.queue.push(buf) }
    }
    this.queued += data.byteLength
    if (!this.flushScheduled) {
      this.flushScheduled = true
      queueMicrotask(this.flush)
    }
    const canSendMore = this.queued < MEMLITE_HIGH_WATER
    if (!canSendMore) { this.blocked = true }
    return { sentBytes: data.byteLength, canSendMore }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false
    const queue = this.queue
    this.queue = []
    this.queued = 0
    for (const buf of queue) { this.peer?.deliver(buf) }
    if (this.blocked) {
      this.blocked = false
      this.safeDispatchEvent('drain')
    }
  }

  private deliver (buf: Uint8Array | Uint8ArrayList): void {
    if (this.status === 'open' || this.status === 'closing') { this.onData(buf) }
  }

  async sendClose (): Promise<void> {
    this.flush()
    const peer = this.peer
    queueMicrotask(() => { peer?.onTransportClosed() })
  }

  sendReset (err: Error): void {
    const peer = this.peer
    queueMicrotask(() => { peer?.onTransportClosed(err) })
  }

  sendPause (): void {
    // the base class buffers while paused; the bytes in flight are bounded by MEMLITE_HIGH_WATER
  }

  sendResume (): void {}
}

export function memlitePair (wholeSends = false): ConnPair {
  const addr = multiaddr('/memory/memlite')
  const client = new MemLiteConnection({ direction: 'outbound', log: logger('bench:memlite:client'), remoteAddr: addr })
  const server = new MemLiteConnection({ direction: 'inbound', log: logger('bench:memlite:server'), remoteAddr: addr })
  client.peer = server
  server.peer = client
  client.wholeSends = server.wholeSends = wholeSends
  return { client, server }
}

/** A fresh connection pair on the given transport */
export async function connPair (transport: TransportName, server: LoopbackServer): Promise<ConnPair> {
  return transport === 'tcp' ? tcpPair(server) : memlitePair(transport === 'memwhole')
}

/** Close both ends; falls back to abort so a stuck close never stalls the next run */
export async function closeConnPair (pair: ConnPair): Promise<void> {
  const signal = AbortSignal.timeout(2000)
  await Promise.all([pair.client, pair.server].map(async conn => {
    try {
      await conn.close({ signal })
    } catch (err: any) {
      conn.abort(err)
    }
  }))
}
