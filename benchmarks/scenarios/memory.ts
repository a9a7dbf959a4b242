/**
 * Scenario: memory of the many-streams transfer, one fresh child process per run (peak RSS is a
 * process-lifetime high-water mark), muxers and the idle 'none' baseline rotated. Each send is a
 * newly allocated buffer, so anything a muxer buffers is real memory. Cold runs by design.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { runRotated } from '../harness.ts'
import { MUXERS, MUXER_NOTE } from '../muxers.ts'
import type { Metrics, ScenarioResult } from '../harness.ts'

const CHILD = fileURLToPath(new URL('../memory-child.js', import.meta.url))
const MiB = 1024 * 1024

async function runChild (variant: string, count: number, size: number): Promise<Metrics> {
  const child = spawn(process.execPath, ['--expose-gc', CHILD, variant, String(count), String(size)], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (buf: Buffer) => { out += buf.toString() })
  child.stderr.on('data', (buf: Buffer) => { err += buf.toString() })
  const code = await new Promise<number | null>(resolve => child.once('close', resolve))
  const line = out.trim().split('\n').pop() ?? ''
  if (code !== 0 || line === '') { throw new Error(`memory child exited with ${code}: ${err.trim().slice(-500)}`) }
  return JSON.parse(line)
}

export interface MemoryOptions {
  count: number
  size: number
  reps: number
}

export async function memory (opts: MemoryOptions): Promise<ScenarioResult> {
  return runRotated({
    id: 'memory-tcp',
    title: `Memory: ${opts.count} streams × ${opts.size / MiB} MiB over tcp, fresh process per run`,
    short: `memory, ${opts.count} × ${opts.size / MiB} MiB, tcp`,
    notes: [
      'peak RSS = the child\'s own high-water mark (VmHWM in /proc/self/status; maxRSS would start at the parent\'s RSS); heapUsed / arrayBuffers peaks are above the post-gc() start; peaks are sampled every 16 received messages',
      'parked = every stream\'s write + read buffer on both muxers, both connections\' buffers and both sockets\' writableLength',
      'none = node + modules + an idle muxado pair on a tcp connection, no transfer',
      'each send is a newly allocated 64 KiB Buffer; runs are cold (no warm-up) by design',
      MUXER_NOTE
    ],
    variants: [...MUXERS, 'none'],
    reps: opts.reps,
    warmup: false,
    metrics: [
      { key: 'rss', label: 'peak RSS MiB', unit: 'MiB', better: 'lower' },
      { key: 'rssOver', label: 'peak RSS − start MiB', unit: 'MiB', better: 'lower' },
      { key: 'heap', label: 'heapUsed peak MiB', unit: 'MiB', better: 'lower' },
      { key: 'arrayBuffers', label: 'arrayBuffers peak MiB', unit: 'MiB', better: 'lower' },
      { key: 'parked', label: 'bytes parked in stream/conn/socket buffers, peak MiB', unit: 'MiB', better: 'lower' },
      { key: 'ms', label: 'cold run ms', unit: 'ms', better: 'lower' }
    ],
    headline: ['rss'],
    baselineRatios: ['rss'],
    run: async variant => runChild(variant, opts.count, opts.size)
  })
}
