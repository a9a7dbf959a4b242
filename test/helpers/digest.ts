/** Digests for comparing large payloads in the Node-only suites (node:crypto) */
import { createHash } from 'node:crypto'
import type { Uint8ArrayList } from 'uint8arraylist'

export function sha256 (data: Uint8Array | Uint8ArrayList): string {
  const hash = createHash('sha256')
  for (const buf of data instanceof Uint8Array ? [data] : data) { hash.update(buf) }
  return hash.digest('hex')
}
