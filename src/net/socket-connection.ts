import { defaultLogger } from '@libp2p/logger'
import { AbstractMultiaddrConnection, ipPortToMultiaddr } from '@libp2p/utils'
import { piecesOf } from '../protocol/pieces.ts'
import type { AbortOptions, Logger, MessageStreamDirection, MultiaddrConnection } from '@libp2p/interface'
import type { SendResult } from '@libp2p/utils'
import type { Duplex } from 'node:stream'
import type { Uint8ArrayList } from 'uint8arraylist'

/** The parts of `net.Socket` used when the wrapped stream has them */
interface SocketLike extends Duplex {
  remoteAddress?: string
  remotePort?: number
  destroySoon?(): void
  resetAndDestroy?(): void
}

export interface SocketConnectionInit {
  /** a connected `net.Socket`, `tls.TLSSocket` or any byte `Duplex` */
  socket: Duplex
  /** 'outbound' for the muxado client (the side that dialed), 'inbound' for the server */
  direction: MessageStreamDirection
  /** defaults to a `libp2p-muxado:net:<direction>` logger from `@libp2p/logger` */
  log?: Logger
}

/** `/ip4|ip6/<addr>/tcp/<port>` of the peer; a stream without an address gets `/ip4/0.0.0.0/tcp/0` */
function remoteMultiaddr (socket: SocketLike): MultiaddrConnection['remoteAddr'] {
  try {
    if (socket.remoteAddress != null && socket.remotePort != null) {
      return ipPortToMultiaddr(socket.remoteAddress, socket.remotePort)
    }
  } catch {
    // an address that is not an IP (a unix socket): fall through
  }
  return ipPortToMultiaddr('0.0.0.0', 0)
}

/**
 * A connected socket (or any byte `Duplex`) as the libp2p `MessageStream` that `MuxadoMuxer`
 * runs over: the same adapter `@libp2p/tcp` uses for its connections, without libp2p around it.
 * Unlike `@libp2p/tcp` it sets no idle timeout: muxado's heartbeats decide when a peer is dead.
 */
export class SocketConnection extends AbstractMultiaddrConnection {
  readonly socket: Duplex
  /**
   * The socket writes many buffers with one system call (`net.Socket` and `tls.TLSSocket` have
   * `_writev`): the session may hand it frames uncopied. A Duplex without it would take one
   * write per piece, so it gets each batch as one buffer.
   */
  readonly gathersWrites: boolean

  constructor (init: SocketConnectionInit) {
    const socket: SocketLike = init.socket
    super({
      remoteAddr: remoteMultiaddr(socket),
      direction: init.direction,
      log: init.log ?? defaultLogger().forComponent(`libp2p-muxado:net:${init.direction}`)
    })
    this.socket = socket
    this.gathersWrites = typeof (socket as { _writev?: unknown })._writev === 'function'

    socket.on('data', (buf: Uint8Array) => {
      this.onData(buf)
    })
    socket.on('error', (err: Error) => {
      this.log('socket error - %e', err)
      this.abort(err)
    })
    socket.once('end', () => {
      // the peer's FIN: no more bytes will come. A Duplex that allows half-open connections
      // would stay writable; muxado has nothing to say after the peer is gone
      this.onTransportClosed()
      if (!socket.writableEnded) { socket.end() }
    })
    socket.once('close', () => {
      this.onTransportClosed()
    })
    socket.on('drain', () => {
      this.safeDispatchEvent('drain')
    })
  }

  /**
   * All buffers of a batch go to the socket corked, so a socket that gathers writes them with
   * one `writev`. The socket buffers what the kernel does not take; `false` tells the session to
   * wait for 'drain'.
   */
  sendData (data: Uint8ArrayList): SendResult {
    let canSendMore = true
    this.socket.cork()
    for (const buf of piecesOf(data)) {
      canSendMore = this.socket.write(buf)
    }
    this.socket.uncork()
    return { sentBytes: data.byteLength, canSendMore }
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    const socket: SocketLike = this.socket
    if (socket.destroyed) { return }
    const closed = new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        socket.off('close', onClose)
        reject(options?.signal?.reason ?? new Error('Closing the socket was aborted'))
      }
      const onClose = (): void => {
        options?.signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      socket.once('close', onClose)
      options?.signal?.addEventListener('abort', onAbort, { once: true })
    })
    // write what is queued, send FIN, then close
    if (typeof socket.destroySoon === 'function') {
      socket.destroySoon()
    } else {
      socket.end(() => { socket.destroy() })
    }
    await closed
  }

  sendReset (): void {
    const socket: SocketLike = this.socket
    // a TCP RST where the handle is TCP; TLS and other streams are simply destroyed
    if (!socket.writableEnded && typeof socket.resetAndDestroy === 'function') {
      try {
        socket.resetAndDestroy()
        return
      } catch {
        // ERR_INVALID_HANDLE_TYPE: not a TCP handle
      }
    }
    socket.destroy()
  }

  sendPause (): void {
    this.socket.pause()
  }

  sendResume (): void {
    this.socket.resume()
  }
}
