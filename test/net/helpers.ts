/**
 * Helpers for the libp2p-muxado/net tests: a throwaway TLS certificate, payloads, reading a
 * Duplex to the end, and teardown of everything a test created.
 */

import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { dial, listen } from '../../src/net/index.ts'
import { pattern } from '../helpers/streams.ts'
import { within } from '../helpers/time.ts'
import type { DialOptions, ListenOptions, MuxadoDuplex, Server, Session } from '../../src/net/index.ts'
import type { Duplex } from 'node:stream'

export interface TestCertificate {
  key: string
  cert: string
}

let certificate: TestCertificate | undefined

/**
 * A self-signed EC P-256 certificate for `localhost` and 127.0.0.1, valid for a day, made with
 * the `openssl` command (Node's crypto can make keys but not X.509 certificates).
 */
export function testCertificate (): TestCertificate {
  if (certificate != null) { return certificate }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muxado-net-cert-'))
  try {
    const keyFile = path.join(dir, 'key.pem')
    const certFile = path.join(dir, 'cert.pem')
    const result = spawnSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'
    ], { encoding: 'utf8', timeout: 30_000 })
    if (result.error != null || result.status !== 0) {
      throw new Error(`making a test certificate with openssl failed (is openssl installed?): ${result.error?.message ?? result.stderr}`)
    }
    certificate = { key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(certFile, 'utf8') }
    return certificate
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** `length` bytes that differ per `seed`, so swapped streams are caught */
/** `pattern()` bytes as a Buffer, for Node's stream API */
export function payload (length: number, seed: number): Buffer {
  const bytes = pattern(length, seed)
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/**
 * Everything read from `stream` until its end. The loop must not destroy the stream: Node ends a
 * for-await over a Duplex with `destroy(new AbortError())` while its writable side is open,
 * which resets a muxado stream
 */
export async function readAll (stream: Duplex): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream.iterator({ destroyOnReturn: false })) { chunks.push(chunk) }
  return Buffer.concat(chunks)
}

/** Write `data` and end, then read the whole reply: one round trip through an echo */
export async function echoRoundTrip (stream: MuxadoDuplex, data: Buffer): Promise<Buffer> {
  const reply = readAll(stream)
  await pipeline(async function * () { yield data }, stream)
  return reply
}

/** Echo every stream of `session` back to its sender with `pipeline` */
export function echoStreams (session: Session): void {
  void (async () => {
    for await (const stream of session) {
      pipeline(stream, stream).catch(() => {})
    }
  })()
}

/** Resolves with the session's close reason */
export async function sessionClosed (session: Session): Promise<Error | undefined> {
  if (session.closed) { return session.closeReason }
  return new Promise(resolve => { session.once('close', resolve) })
}

const sessions = new Set<Session>()
const servers = new Set<Server>()

export function trackSession (session: Session): Session {
  sessions.add(session)
  return session
}

/** `dial()` on 127.0.0.1, torn down by `cleanup()` */
export async function dialTracked (options: DialOptions): Promise<Session> {
  return trackSession(await dial({ host: '127.0.0.1', ...options }))
}

/** `listen()` on 127.0.0.1; the server and every session it accepts are torn down by `cleanup()` */
export async function listenTracked (options: ListenOptions = {}): Promise<Server> {
  const server = await listen({ host: '127.0.0.1', ...options })
  servers.add(server)
  server.on('session', (session) => { sessions.add(session) })
  return server
}

/** Destroy every session and close every server the test created (afterEach) */
export async function cleanup (): Promise<void> {
  for (const session of sessions) { session.destroy() }
  await Promise.all([...sessions].map(async session => { await within(sessionClosed(session), 10_000, 'session teardown') }))
  sessions.clear()
  await Promise.all([...servers].map(async server => { await server.close() }))
  servers.clear()
}
