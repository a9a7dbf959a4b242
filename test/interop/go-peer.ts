/**
 * The Go interop peers (test/interop/go-peer/main.go, raw muxado, and
 * test/interop/go-libp2p-peer, a minimal libp2p peer): build them, spawn them, read their JSON
 * events.
 *
 * Every process gets a hard timeout (Go's own -timeout watchdog, and a SIGKILL from here a little
 * later), and `killAllGoPeers()` in afterEach removes whatever a failed test left behind.
 */

import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'

/** test/interop of the source tree: this file runs from dist/test/interop, so look for package.json */
function findInteropDir (): string {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 10; i++) {
    const candidate = path.join(dir, 'test', 'interop')
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(candidate, 'build-go-peer.sh'))) { return candidate }
    dir = path.dirname(dir)
  }
  throw new Error('cannot find test/interop/build-go-peer.sh above ' + fileURLToPath(import.meta.url))
}

export const INTEROP_DIR = findInteropDir()
export const BUILD_SCRIPT = path.join(INTEROP_DIR, 'build-go-peer.sh')
export const GO_PEER_BINARY = path.join(INTEROP_DIR, 'go-peer', 'muxado-peer')
export const GO_LIBP2P_PEER_BINARY = path.join(INTEROP_DIR, 'go-libp2p-peer', 'libp2p-peer')

/** Run build-go-peer.sh (it builds both peers). Throws with the script's output if the build fails. */
function buildGoPeers (): void {
  const result = spawnSync('bash', [BUILD_SCRIPT], { encoding: 'utf8', timeout: 180_000 })
  if (result.error != null || result.status !== 0 || !fs.existsSync(GO_PEER_BINARY) || !fs.existsSync(GO_LIBP2P_PEER_BINARY)) {
    const why = result.error?.message ?? `exit status ${result.status ?? result.signal}`
    throw new Error(`building the Go interop peers failed (${why}):\n${result.stderr ?? ''}${result.stdout ?? ''}`)
  }
}

/**
 * The `before` of a suite that needs the Go peers: build them. A failed build fails the suite,
 * unless MUXADO_SKIP_GO=1 is set: then the suite is skipped with a loud warning.
 */
export function buildGoPeersOrSkip (context: Mocha.Context, suite: string): void {
  context.timeout(200_000)
  try {
    buildGoPeers()
  } catch (err: any) {
    if (process.env.MUXADO_SKIP_GO !== '1') { throw err }
    const bar = '!'.repeat(78)
    const why = String(err.message).split('\n').filter(line => line.trim() !== '').map(line => `!!   ${line}`).join('\n')
    // eslint-disable-next-line no-console
    console.warn(`\n${bar}\n!! MUXADO_SKIP_GO=1 and the Go peers could not be built: SKIPPING ${suite}.\n!! Nothing was checked against Go.\n${why}\n${bar}\n`)
    context.skip()
  }
}

/** One JSON line from the peer: "event" and "ms" always, the rest depends on the event */
export interface GoEvent {
  event: string
  ms: number
  sid?: number
  [key: string]: any
}

export type EventMatcher = string | ((e: GoEvent) => boolean)

export interface GoExit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface GoPeerOptions {
  /** the hard limit of the whole process; Go gets it as -timeout, SIGKILL follows 2 s later */
  timeoutMs?: number
  /** GO_PEER_BINARY unless given */
  binary?: string
}

const running = new Set<GoPeer>()

function matches (matcher: EventMatcher, e: GoEvent): boolean {
  return typeof matcher === 'string' ? e.event === matcher : matcher(e)
}

export class GoPeer {
  readonly binary: string
  readonly args: string[]
  readonly events: GoEvent[] = []
  readonly child: ChildProcess
  readonly exited: Promise<GoExit>
  stderr = ''
  exit?: GoExit
  private stdoutRest = ''
  private readonly listeners = new Set<() => void>()
  private readonly killTimer: ReturnType<typeof setTimeout>

  constructor (args: string[], options: GoPeerOptions = {}) {
    const timeoutMs = options.timeoutMs ?? 30_000
    this.args = [...args, '-timeout', `${timeoutMs}ms`]
    this.binary = options.binary ?? GO_PEER_BINARY
    // stdin is a pipe for the commands of the libp2p peer; the muxado peer never reads it
    this.child = spawn(this.binary, this.args, { stdio: ['pipe', 'pipe', 'pipe'] })
    running.add(this)
    this.child.stdout?.setEncoding('utf8')
    this.child.stdout?.on('data', (text: string) => { this.onStdout(text) })
    this.child.stderr?.setEncoding('utf8')
    this.child.stderr?.on('data', (text: string) => { this.stderr += text })
    this.killTimer = setTimeout(() => { this.kill() }, timeoutMs + 2000)
    this.killTimer.unref()
    this.exited = new Promise<GoExit>((resolve) => {
      this.child.once('close', (code, signal) => {
        clearTimeout(this.killTimer)
        running.delete(this)
        this.exit = { code, signal }
        this.notify()
        resolve(this.exit)
      })
      this.child.once('error', (err) => {
        this.stderr += `\nspawn error: ${err.message}`
      })
    })
  }

  private onStdout (text: string): void {
    const lines = (this.stdoutRest + text).split('\n')
    this.stdoutRest = lines.pop() ?? ''
    for (const line of lines) {
      if (line.trim() === '') { continue }
      try {
        this.events.push(JSON.parse(line))
      } catch {
        this.events.push({ event: 'unparsed', ms: -1, line })
      }
    }
    this.notify()
  }

  private notify (): void {
    for (const listener of [...this.listeners]) { listener() }
  }

  /** All events matching */
  all (matcher: EventMatcher): GoEvent[] {
    return this.events.filter(e => matches(matcher, e))
  }

  /** The stream-done events of the streams Go accepted (and echoed) or opened (and checked) */
  streamsDone (direction: 'accepted' | 'opened'): GoEvent[] {
    return this.events.filter(e => e.event === 'stream-done' && e.direction === direction)
  }

  /** The first event matching, if it arrived */
  find (matcher: EventMatcher): GoEvent | undefined {
    return this.events.find(e => matches(matcher, e))
  }

  /** Resolve with the first event matching; reject if the process exits first or on timeout */
  async waitFor (matcher: EventMatcher, timeoutMs = 10_000): Promise<GoEvent> {
    return new Promise<GoEvent>((resolve, reject) => {
      const check = (): boolean => {
        const found = this.find(matcher)
        if (found != null) {
          done()
          resolve(found)
          return true
        }
        if (this.exit != null) {
          done()
          reject(new Error(`Go peer exited (${this.exit.code ?? this.exit.signal}) before ${describe(matcher)}\n${this.diagnostics()}`))
          return true
        }
        return false
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`no ${describe(matcher)} from the Go peer within ${timeoutMs} ms\n${this.diagnostics()}`))
      }, timeoutMs)
      const done = (): void => {
        clearTimeout(timer)
        this.listeners.delete(listener)
      }
      const listener = (): void => { check() }
      if (!check()) { this.listeners.add(listener) }
    })
  }

  /** Resolve with the exit code; SIGKILL and reject on timeout */
  async waitExit (timeoutMs = 10_000): Promise<number | null> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        this.kill()
        reject(new Error(`Go peer did not exit within ${timeoutMs} ms\n${this.diagnostics()}`))
      }, timeoutMs)
    })
    try {
      const exit = await Promise.race([this.exited, timeout])
      return exit.code
    } finally {
      clearTimeout(timer)
    }
  }

  /** Wait for the exit and require status 0 (all the peer's checks passed) */
  async expectSuccess (timeoutMs = 10_000): Promise<void> {
    const code = await this.waitExit(timeoutMs)
    if (code !== 0) { throw new Error(`Go peer exited with ${code ?? this.exit?.signal}\n${this.diagnostics()}`) }
  }

  kill (): void {
    if (this.exit == null && this.child.exitCode == null && this.child.signalCode == null) {
      this.child.kill('SIGKILL')
    }
  }

  /** The command line, every event and the end of stderr, for failure messages */
  diagnostics (): string {
    const events = this.events.map(e => '  ' + JSON.stringify(e)).join('\n')
    return `  ${path.basename(this.binary)} ${this.args.join(' ')}\n  events:\n${events}\n  stderr (tail):\n${this.stderr.split('\n').slice(-25).join('\n')}`
  }
}

function describe (matcher: EventMatcher): string {
  return typeof matcher === 'string' ? `"${matcher}" event` : 'matching event'
}

/** Start `muxado-peer -mode listen ...` and wait for its port */
export async function goListen (args: string[], options: GoPeerOptions = {}): Promise<{ peer: GoPeer, port: number }> {
  const peer = new GoPeer(['-mode', 'listen', ...args], options)
  const listening = await peer.waitFor('listening', 10_000)
  return { peer, port: Number(listening.port) }
}

/** Start `muxado-peer -mode dial -addr 127.0.0.1:port ...` */
export function goDial (port: number, args: string[], options: GoPeerOptions = {}): GoPeer {
  return new GoPeer(['-mode', 'dial', '-addr', `127.0.0.1:${port}`, ...args], options)
}

/** Kill every Go peer still running (afterEach) */
export async function killAllGoPeers (): Promise<void> {
  const peers = [...running]
  for (const peer of peers) { peer.kill() }
  await Promise.all(peers.map(async peer => peer.exited))
}
