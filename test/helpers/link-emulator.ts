/**
 * A network link in user space (this kernel has no netem qdisc): a TCP relay on loopback that
 * delays every byte by half the round trip each way and lets bytes out no faster than the link
 * rate. Each direction is one bottleneck shared by every connection through the relay, with a
 * queue of `bufferBytes`; a full queue stops reading from the sender, so TCP's own flow control
 * on the loopback hop holds it back, as a router queue would by dropping.
 */
import net from 'node:net'

export interface LinkOptions {
  /** ms of round trip, half of it each way */
  rttMs: number
  bitsPerSecond: number
  /** bytes the bottleneck queues before the sender is held; default one bandwidth-delay product */
  bufferBytes?: number
}

interface InFlight {
  /** when the bytes reach the other end */
  at: number
  /** bytes, or the sender's half-close or its connection's end */
  data: Buffer | 'end' | 'close'
}

/** One direction of the link: a serialiser at the link rate, then a fixed delay */
class Direction {
  private readonly bytesPerMs: number
  private readonly delayMs: number
  private readonly bufferBytes: number
  private departAt = 0
  private readonly held = new Set<net.Socket>()
  private resumeTimer?: NodeJS.Timeout

  constructor (options: LinkOptions) {
    this.bytesPerMs = options.bitsPerSecond / 8000
    this.delayMs = options.rttMs / 2
    this.bufferBytes = options.bufferBytes ?? Math.ceil(this.bytesPerMs * options.rttMs)
  }

  /** When `bytes` sent now arrive; holds `from` while the queue is over the buffer */
  schedule (bytes: number, from: net.Socket): number {
    const now = performance.now()
    this.departAt = Math.max(now, this.departAt) + bytes / this.bytesPerMs
    const queued = (this.departAt - now) * this.bytesPerMs
    if (queued > this.bufferBytes) {
      from.pause()
      this.held.add(from)
      this.resumeWhenRoom()
    }
    return this.departAt + this.delayMs
  }

  /** The time a marker sent now (end of stream) arrives, behind everything queued */
  arrival (): number {
    return Math.max(performance.now(), this.departAt) + this.delayMs
  }

  private resumeWhenRoom (): void {
    if (this.resumeTimer != null) { return }
    const roomAt = this.departAt - this.bufferBytes / this.bytesPerMs
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined
      for (const socket of this.held) { socket.resume() }
      this.held.clear()
    }, Math.max(0, roomAt - performance.now()))
  }

  stop (): void {
    clearTimeout(this.resumeTimer)
    this.held.clear()
  }
}

/** Bytes from `from` reach `to` when `direction` lets them */
function relay (from: net.Socket, to: net.Socket, direction: Direction): void {
  const line: InFlight[] = []
  let next = 0
  let timer: NodeJS.Timeout | undefined
  const deliver = (): void => {
    timer = undefined
    const now = performance.now()
    while (next < line.length && line[next].at <= now) {
      const { data } = line[next++]
      if (data === 'end') { to.end() } else if (data === 'close') { to.destroy() } else if (!to.destroyed) { to.write(data) }
    }
    if (next === line.length) {
      line.length = 0
      next = 0
    } else {
      timer = setTimeout(deliver, line[next].at - now)
    }
  }
  const push = (entry: InFlight): void => {
    line.push(entry)
    timer ??= setTimeout(deliver, entry.at - performance.now())
  }
  from.on('data', (data: Buffer) => { push({ at: direction.schedule(data.byteLength, from), data }) })
  from.on('end', () => { push({ at: direction.arrival(), data: 'end' }) })
  from.on('close', () => { push({ at: direction.arrival(), data: 'close' }) })
  to.on('close', () => {
    clearTimeout(timer)
    from.destroy()
  })
}

export class LinkEmulator {
  private readonly server: net.Server
  private readonly directions: Direction[]
  private readonly sockets = new Set<net.Socket>()

  private constructor (server: net.Server, directions: Direction[]) {
    this.server = server
    this.directions = directions
  }

  /** Dial this to cross the link */
  get port (): number {
    return (this.server.address() as net.AddressInfo).port
  }

  /** Listen on a loopback port; each connection to it is relayed to `targetPort` through the link */
  static async start (targetPort: number, options: LinkOptions): Promise<LinkEmulator> {
    const up = new Direction(options)
    const down = new Direction(options)
    const server = net.createServer({ noDelay: true, allowHalfOpen: true })
    const link = new LinkEmulator(server, [up, down])
    server.on('connection', (inbound) => {
      const outbound = net.connect({ host: '127.0.0.1', port: targetPort, noDelay: true, allowHalfOpen: true })
      for (const socket of [inbound, outbound]) {
        link.sockets.add(socket)
        socket.on('close', () => link.sockets.delete(socket))
        socket.on('error', () => {})
      }
      // nothing the client sends is lost while the relay's own connection opens
      inbound.pause()
      outbound.once('connect', () => { inbound.resume() })
      relay(inbound, outbound, up)
      relay(outbound, inbound, down)
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', resolve)
    })
    return link
  }

  async close (): Promise<void> {
    for (const direction of this.directions) { direction.stop() }
    for (const socket of this.sockets) { socket.destroy() }
    await new Promise<void>(resolve => { this.server.close(() => { resolve() }) })
  }
}
