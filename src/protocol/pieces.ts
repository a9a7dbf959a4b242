import type { Uint8ArrayList } from 'uint8arraylist'

/**
 * The buffers of a Uint8ArrayList, in order. The list's iterator is a generator, which costs
 * more than the work the decoder does with a piece, and every chunk a libp2p connection hands
 * the muxer is a list, mostly of one piece. So the list's own `bufs` array is read while it is
 * there (uint8arraylist 2.x keeps it as a public field that its typings call private); a list
 * without it is copied out through the public iterator. The array returned is only for reading.
 */
export function piecesOf (list: Uint8ArrayList): readonly Uint8Array[] {
  const bufs = (list as unknown as { bufs?: unknown }).bufs
  return Array.isArray(bufs) ? bufs : [...list]
}
