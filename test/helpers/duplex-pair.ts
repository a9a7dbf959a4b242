import { Duplex, PassThrough } from 'node:stream'

/**
 * Two connected in-memory Duplexes without `writev`, for sessions over something that is not a
 * socket: each hands the very buffer it was written to the other side's reader.
 */
export function duplexPair (): [Duplex, Duplex] {
  const aToB = new PassThrough()
  const bToA = new PassThrough()
  const make = (readFrom: PassThrough, writeTo: PassThrough): Duplex => {
    const side: Duplex = new Duplex({
      read () { readFrom.resume() },
      write (chunk, _encoding, callback) {
        if (writeTo.write(chunk)) { callback() } else { writeTo.once('drain', () => { callback() }) }
      },
      final (callback) { writeTo.end(); callback() },
      destroy (err, callback) { writeTo.end(); callback(err) }
    })
    readFrom.on('data', (chunk) => { if (!side.push(chunk)) { readFrom.pause() } })
    readFrom.on('end', () => { side.push(null) })
    return side
  }
  return [make(bToA, aToB), make(aToB, bToA)]
}
