import type { MessageStream } from '@libp2p/interface'

/**
 * What the session knows about the connection below it, and so how the writer hands it a batch
 * of frames (a 64 KiB write is five frames: headers and payload views):
 *
 * | connection | a batch goes | why |
 * |---|---|---|
 * | `@libp2p/tcp` (a kernel `socket`: `writableLength`, `setNoDelay`) | written into one reused buffer | it writes each piece of a list separately; once neither it nor its socket holds anything after `send()`, the kernel has copied the bytes and the buffer is free |
 * | Noise (`@chainsafe/libp2p-noise`: a `handshake` that can `encrypt`) | written into one reused buffer | it encrypts each piece of a list into its own message and socket write; it encrypts within `send()` unless it had to queue the plaintext |
 * | a `SocketConnection` (`libp2p-muxado/net`) over a socket with `writev` | the pieces as a list | one system call writes them all, uncopied |
 * | a `SocketConnection` over a `Duplex` without `writev` | copied into fresh memory | it would write each piece separately, and a JS stream may hand the very buffer to its reader |
 * | WebSockets (a `websocket` that can `send`) | copied into fresh memory | each piece would be a message of its own, and `ws` may keep a buffer queued |
 * | anything else (in-memory pairs, ...) | the pieces as a list | nothing is reused, so nothing can change under the connection; what yamux and mplex send every connection |
 *
 * Fresh memory is what costs on the copy path (page faults on first touch, external-memory GCs),
 * so a copy reuses its buffer whenever the connection proves it is done with it. The checks read
 * other packages' fields; when those fields are not there, the connection counts as "anything
 * else", which never reuses a buffer.
 */
export interface TransportProfile {
  /** hand the batch's pieces as a list, uncopied */
  sendsViews: boolean
  /**
   * Present when batches may be written into reused buffers: called outside `send()` before a
   * batch is started, true when the connection has finished with every byte it was handed
   */
  finishedWithSent?(): boolean
}

interface Inspected {
  /** `SocketConnection`'s own flag */
  gathersWrites?: unknown
  /** `AbstractMessageStream`: bytes queued while the connection waits for 'drain' */
  writeBufferLength?: unknown
  socket?: { writableLength?: unknown, setNoDelay?: unknown }
  handshake?: { encrypt?: unknown }
  websocket?: { send?: unknown }
}

const VIEWS: TransportProfile = { sendsViews: true }
/** Each batch copied into fresh memory of its own, never reused */
export const FRESH_COPIES: TransportProfile = { sendsViews: false }

export function profileTransport (connection: MessageStream): TransportProfile {
  const inspected = connection as Inspected
  if (typeof inspected.gathersWrites === 'boolean') {
    return inspected.gathersWrites ? VIEWS : FRESH_COPIES
  }
  if (typeof inspected.writeBufferLength === 'number') {
    const socket = inspected.socket
    // setNoDelay: a kernel socket, which copies what it writes; a JS stream may keep the buffer
    if (typeof socket?.writableLength === 'number' && typeof socket.setNoDelay === 'function') {
      return { sendsViews: false, finishedWithSent: () => inspected.writeBufferLength === 0 && socket.writableLength === 0 }
    }
    if (typeof inspected.handshake?.encrypt === 'function') {
      return { sendsViews: false, finishedWithSent: () => inspected.writeBufferLength === 0 }
    }
  }
  if (typeof inspected.websocket?.send === 'function') {
    return FRESH_COPIES
  }
  return VIEWS
}
