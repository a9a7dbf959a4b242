/**
 * Summarise a V8 CPU profile (`.cpuprofile`, from `node --cpu-prof` or the inspector): self time
 * per function and per package, as markdown tables.
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
}

export interface Profile {
  nodes: ProfileNode[]
  startTime: number
  samples?: number[]
  timeDeltas?: number[]
}

/** Time window (µs, the profile's monotonic clock) of the samples to count */
export interface Window {
  start: number
  end: number
  label: string
}

/** The newest `.cpuprofile` in a directory */
export function newest (dir: string): string {
  const files = readdirSync(dir).filter(f => f.endsWith('.cpuprofile')).map(f => join(dir, f))
  if (files.length === 0) { throw new Error(`no .cpuprofile in ${dir}`) }
  return files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]
}

/** Our own compiled output (dist/ or another outDir): the directory above this file */
const OWN = new URL('../', import.meta.url).href

/** Which package a frame belongs to: the last node_modules segment wins (nested copies count apart) */
function packageOf (url: string, functionName: string): string {
  if (url === '') { return functionName.startsWith('(') ? functionName : '(native/builtin)' }
  if (url.startsWith('node:')) { return 'node: internals' }
  if (url.startsWith(`${OWN}src/`)) { return 'libp2p-muxado (src)' }
  if (url.startsWith(`${OWN}benchmarks/`)) { return 'harness (benchmarks)' }
  const parts = url.split('/node_modules/')
  if (parts.length > 1) {
    const rest = parts[parts.length - 1].split('/')
    const name = rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
    return parts.length > 2 ? `${name} (nested in ${parts[parts.length - 2].split('/').slice(-1)[0]})` : name
  }
  return url
}

/** A file path short enough for a table: package-relative, or relative to our output directory */
function shortUrl (url: string): string {
  if (url.startsWith(OWN)) { return url.slice(OWN.length) }
  const nm = url.lastIndexOf('/node_modules/')
  return nm !== -1 ? url.slice(nm + 14).replace('/dist/src/', '/') : url
}

export function summary (profile: Profile, top: number, window?: Window): string {
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const selfByFn = new Map<string, number>()
  const selfByPkg = new Map<string, number>()
  const samples = profile.samples ?? []
  let total = 0
  let t = profile.startTime
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i])
    const dt = profile.timeDeltas?.[i] ?? 0
    t += dt
    if (node == null || (window != null && (t < window.start || t > window.end))) { continue }
    const { functionName, url, lineNumber } = node.callFrame
    total += dt
    const fn = `${functionName === '' ? '(anonymous)' : functionName} ${url === '' ? '' : `${shortUrl(url)}:${lineNumber + 1}`}`.trim()
    selfByFn.set(fn, (selfByFn.get(fn) ?? 0) + dt)
    const pkg = packageOf(url, functionName)
    selfByPkg.set(pkg, (selfByPkg.get(pkg) ?? 0) + dt)
  }
  const table = (title: string, head: string, map: Map<string, number>, n: number): string[] => [
    `${title}:`,
    '',
    `| # | self ms | % | ${head} |`,
    '|---|---|---|---|',
    ...[...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)
      .map(([k, us], i) => `| ${i + 1} | ${(us / 1e3).toFixed(0)} | ${(100 * us / total).toFixed(1)} | \`${k}\` |`),
    ''
  ]
  return [
    `${(total / 1e3).toFixed(0)} ms sampled.`,
    '',
    // over loopback TCP the event loop never waits (utilisation 1.00), yet this is half the samples
    '`(idle)` is the event loop\'s poll phase outside JavaScript: waiting, but also libuv reading sockets.',
    '',
    ...table(`Top ${top} self time`, 'function (file:line)', selfByFn, top),
    ...table('Self time by package', 'package', selfByPkg, 15)
  ].join('\n')
}
