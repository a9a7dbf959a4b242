import type { MessageStream } from '@libp2p/interface'

/**
 * What the session knows about the connection below it, and so how the writer hands it a batch
 * of frames (a 64 KiB write is ten pieces: headers and payload views):
 *
 * | connection | how a batch goes | why |
 * |---|---|---|
 * | gathers writes (`libp2p-muxado/net` over a socket with `writev`) | the pieces as a list | one system call writes them all, uncopied |
 * | `@libp2p/tcp` (a `socket` with `writableLength`) | copied into one reused buffer | it writes each piece of a list separately; once the socket has nothing queued after `send()`, the kernel holds the bytes and the buffer is free |
 * | Noise (`@chainsafe/libp2p-noise`: a `handshake` that `encrypt`s) | copied into one reused buffer | it encrypts each piece of a list into its own message and socket write; a plaintext is encrypted within `send()` unless the connection queued it |
 * | anything else (memory, WebSockets, ...) | copied into fresh memory | it may hand the very buffer on (an in-memory pair gives it to the reader) or keep it queued: reusing it could change bytes already sent |
 *
 * Fresh memory is what costs on the copy path (page faults on first touch, external-memory GCs),
 * so the buffer is reused whenever the connection proves it is done with it. The checks read
 * other packages' fields; when those fields are not there, the connection counts as "anything
 * else" and gets fresh memory, which is always safe.
 */
export interface TransportProfile {
  /** hand the batch's pieces as a list, uncopied */
  gathers: boolean
  /**
   * Present when a copied batch may reuse one buffer: called right after `send()`, true when
   * the connection has finished with the bytes it was handed
   */
  finishedWithSent?: () => boolean
}

interface QueueingConnection { writeBufferLength?: unknown }
interface SocketConnection extends QueueingConnection { socket?: { writableLength?: unknown } }
interface NoiseConnection extends QueueingConnection { handshake?: { encrypt?: unknown } }

export function profileTransport (connection: MessageStream, gathersWrites: boolean): TransportProfile {
  if (gathersWrites) {
    return { gathers: true }
  }
  const queued = connection as QueueingConnection
  if (typeof queued.writeBufferLength !== 'number') {
    return { gathers: false }
  }
  const socket = (connection as SocketConnection).socket
  if (typeof socket?.writableLength === 'number') {
    return { gathers: false, finishedWithSent: () => queued.writeBufferLength === 0 && socket.writableLength === 0 }
  }
  if (typeof (connection as NoiseConnection).handshake?.encrypt === 'function') {
    return { gathers: false, finishedWithSent: () => queued.writeBufferLength === 0 }
  }
  return { gathers: false }
}
