/**
 * The environment printed in the header of every output: absolute numbers only mean something
 * next to the machine, its load and the code that produced them.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'

export interface Environment {
  date: string
  node: string
  v8: string
  platform: string
  cpu: string
  cores: number
  loadavg: number[]
  commit: string
  packages: Record<string, string>
  mode: string
}

/** The repository root: the nearest directory up from here whose package.json is ours */
function findRoot (): URL {
  for (let dir = new URL('./', import.meta.url); dir.pathname !== '/'; dir = new URL('../', dir)) {
    try {
      if (JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')).name === 'libp2p-muxado') { return dir }
    } catch {
      // no package.json here, or not JSON: keep walking up
    }
  }
  throw new Error(`cannot find the libp2p-muxado package root above ${import.meta.url}`)
}

export const ROOT = findRoot()
const PACKAGES = ['@chainsafe/libp2p-yamux', '@libp2p/mplex', '@libp2p/utils', '@libp2p/tcp', '@libp2p/interface']

function version (pkg: string): string {
  try {
    return JSON.parse(readFileSync(new URL(`node_modules/${pkg}/package.json`, ROOT), 'utf8')).version
  } catch {
    return '?'
  }
}

function commit (): string {
  try {
    const cwd = ROOT
    const hash = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd, encoding: 'utf8' }).trim() !== ''
    return dirty ? `${hash} + uncommitted src/ changes` : hash
  } catch {
    return 'unknown'
  }
}

export function environment (mode: string): Environment {
  const cpus = os.cpus()
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()}`,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    loadavg: os.loadavg().map(n => Math.round(n * 100) / 100),
    commit: commit(),
    packages: Object.fromEntries(PACKAGES.map(p => [p, version(p)])),
    mode
  }
}
