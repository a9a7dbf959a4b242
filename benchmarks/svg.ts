/**
 * A dependency-free SVG bar chart of the paired ratios: per scenario metric, muxado ÷ yamux and
 * muxado ÷ mplex side by side, median as the bar and min–max as a whisker. The axis is log2 and
 * bars grow from 1.0, so 0.5× and 2× are the same distance from parity and one outlier cannot
 * squash the rest.
 */
import { MUXERS } from './muxers.ts'
import { envLines, findRatio, ratioText } from './report.ts'
import type { Report } from './report.ts'
import type { Summary } from './stats.ts'

const WIDTH = 960
const LABEL_W = 300
const PLOT_X = LABEL_W + 10
const PLOT_W = WIDTH - PLOT_X - 150
const BAR_H = 14
const COLORS: Record<string, string> = { yamux: '#4c78a8', mplex: '#f58518' }

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

export function svg (r: Report): string {
  const rivals = MUXERS.filter(m => m !== 'muxado')
  const groups: Array<{ label: string, ratios: Array<{ rival: string, s: Summary | undefined }> }> = []
  for (const s of r.scenarios) {
    for (const key of s.headline) {
      const m = s.metrics.find(m => m.key === key)
      if (m == null) { continue }
      const ratios = rivals.map(rival => ({ rival, s: findRatio(s, rival, key)?.summary }))
      // a scenario without rivals (the API without libp2p) has no bars to draw
      if (ratios.every(r => r.s == null)) { continue }
      groups.push({ label: `${s.short} · ${m.label} (${m.better === 'higher' ? '↑' : '↓'} better)`, ratios })
    }
  }
  const values = groups.flatMap(g => g.ratios.flatMap(x => [x.s?.min ?? 1, x.s?.max ?? 1])).filter(v => Number.isFinite(v) && v > 0)
  const lo = Math.min(-1, Math.floor(Math.log2(Math.min(...values))))
  const hi = Math.max(1, Math.ceil(Math.log2(Math.max(...values))))
  const x = (v: number): number => PLOT_X + ((Math.log2(Math.max(v, 2 ** lo)) - lo) / (hi - lo)) * PLOT_W

  const top = 80
  const groupH = rivals.length * (BAR_H + 4) + 14
  const plotH = groups.length * groupH
  const height = top + plotH + 40
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    '<text x="10" y="18" font-size="14" font-weight="bold">libp2p-muxado: paired ratios, median with min–max whiskers</text>',
    ...envLines(r).map((line, i) => `<text x="10" y="${32 + i * 11}" font-size="9" fill="#555">${esc(line)}</text>`)
  ]
  // legend
  rivals.forEach((rival, i) => {
    const lx = 10 + i * 150
    out.push(`<rect x="${lx}" y="50" width="12" height="10" fill="${COLORS[rival] ?? '#888'}"/>`,
      `<text x="${lx + 16}" y="59">muxado ÷ ${rival}</text>`)
  })
  out.push(`<text x="${10 + rivals.length * 150}" y="59" fill="#555">1× = parity. ↑ better: right of 1× means muxado is ahead; ↓ better: left of 1× means muxado is ahead</text>`)

  // grid and ticks
  for (let e = lo; e <= hi; e++) {
    const gx = x(2 ** e).toFixed(1)
    out.push(`<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${top + plotH}" stroke="#e5e5e5"/>`,
      `<text x="${gx}" y="${top + plotH + 14}" text-anchor="middle" fill="#555">${2 ** e}×</text>`)
  }

  groups.forEach((g, gi) => {
    const gy = top + gi * groupH
    if (gi % 2 === 1) { out.push(`<rect x="0" y="${gy - 2}" width="${WIDTH}" height="${groupH}" fill="#000" fill-opacity="0.03"/>`) }
    out.push(`<text x="${LABEL_W}" y="${gy + BAR_H + 2}" text-anchor="end">${esc(g.label)}</text>`)
    g.ratios.forEach(({ rival, s }, i) => {
      const by = gy + i * (BAR_H + 4)
      if (s == null || s.n === 0) {
        out.push(`<text x="${PLOT_X + 4}" y="${by + BAR_H - 3}" fill="#a00">no data (÷ ${rival})</text>`)
        return
      }
      const mid = by + BAR_H / 2
      out.push(
        `<rect x="${Math.min(x(1), x(s.median)).toFixed(1)}" y="${by}" width="${Math.abs(x(s.median) - x(1)).toFixed(1)}" height="${BAR_H}" fill="${COLORS[rival] ?? '#888'}"><title>muxado ÷ ${rival}: ${ratioText(s)}</title></rect>`,
        `<line x1="${x(s.min).toFixed(1)}" y1="${mid}" x2="${x(s.max).toFixed(1)}" y2="${mid}" stroke="#222"/>`,
        `<line x1="${x(s.min).toFixed(1)}" y1="${mid - 4}" x2="${x(s.min).toFixed(1)}" y2="${mid + 4}" stroke="#222"/>`,
        `<line x1="${x(s.max).toFixed(1)}" y1="${mid - 4}" x2="${x(s.max).toFixed(1)}" y2="${mid + 4}" stroke="#222"/>`,
        `<text x="${(Math.max(x(s.max), x(1)) + 6).toFixed(1)}" y="${by + BAR_H - 3}">${esc(ratioText(s))}</text>`
      )
    })
  })
  const one = x(1).toFixed(1)
  out.push(`<line x1="${one}" y1="${top - 8}" x2="${one}" y2="${top + plotH}" stroke="#c00" stroke-dasharray="4 3"/>`,
    `<text x="${WIDTH - 10}" y="${height - 8}" text-anchor="end" fill="#555">log2 axis; bars: median of per-repetition ratios, from 1.0; whiskers: min–max</text>`,
    '</svg>')
  return out.join('\n') + '\n'
}
