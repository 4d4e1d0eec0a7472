// A line chart drawn as inline SVG: per-minute series over a time range, a y axis with round
// ticks, a dashed last segment for the minute still in progress, and a hover read-out.

import { h, s, replace } from './dom.js';
import { hm } from './format.js';

const HEIGHT = 200;
const M = { top: 10, right: 14, bottom: 26, left: 58 };

export class Chart {
  // series: [{key, label, color, area}], format: value → string.
  // format formats a value in the read-out, axis formats a tick (format when absent), and
  // unit(hi) gives the unit whose round multiples make the ticks (1 when absent).
  constructor({ title, series, format, axis, unit, empty = 'No data in the last hour' }) {
    this.series = series;
    this.axis = axis ?? format;
    this.unit = unit ?? (() => 1);
    this.format = format;
    this.emptyText = empty;
    this.data = null;
    this.hover = null;
    this.plot = h('div', { class: 'chart-plot' });
    this.tip = h('div', { class: 'chart-tip', hidden: true });
    const legend = h('ul', { class: 'legend' }, series.map((sr) =>
      h('li', { class: `legend-item c-${sr.color}`, 'data-key': sr.key }, h('span', { class: 'swatch' }), h('span', { class: 'legend-label' }, sr.label))));
    this.el = h('section', { class: 'card chart-card' },
      h('header', { class: 'card-head' }, h('h3', {}, title), legend),
      h('div', { class: 'chart-body' }, this.plot, this.tip));
    this.resize = new ResizeObserver(() => this.draw());
    this.resize.observe(this.plot);
  }

  // update replaces the data: {times: [Date], values: {key: [number|null]}}.
  update(data) {
    this.data = data;
    this.draw();
  }

  // relabel names a series anew, in the legend and the read-out.
  relabel(key, label) {
    const sr = this.series.find((x) => x.key === key);
    if (!sr || sr.label === label) return;
    sr.label = label;
    const el = this.el.querySelector(`.legend-item[data-key="${key}"] .legend-label`);
    if (el) el.textContent = label;
  }

  destroy() { this.resize.disconnect(); }

  draw() {
    const d = this.data;
    const width = Math.round(this.plot.clientWidth);
    if (!d || width < 50) return;
    const n = d.times.length;
    const iw = width - M.left - M.right;
    const ih = HEIGHT - M.top - M.bottom;
    let hi = 0;
    let any = false;
    for (const sr of this.series) {
      for (const v of d.values[sr.key] ?? []) {
        if (v === null) continue;
        any ||= v !== 0;
        hi = Math.max(hi, v);
      }
    }
    const unit = hi > 0 ? this.unit(hi) : 1;
    const ticks = any ? niceTicks(hi / unit).map((v) => v * unit) : [0];
    const top = ticks[ticks.length - 1] || 1;
    const t0 = d.times[0].getTime();
    const span = Math.max(1, d.times[n - 1].getTime() - t0);
    const x = (i) => M.left + ((d.times[i].getTime() - t0) / span) * iw;
    const y = (v) => M.top + ih - (v / top) * ih;
    this.geom = { x, y, n, iw, ih, width };

    const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${HEIGHT}`, width, height: HEIGHT, role: 'img', 'aria-label': this.el.querySelector('h3').textContent });
    const grid = s('g', { class: 'grid' });
    for (const tv of ticks) {
      const yy = Math.round(y(tv)) + 0.5;
      grid.append(s('line', { x1: M.left, x2: width - M.right, y1: yy, y2: yy, class: tv === 0 ? 'axis' : '' }));
      grid.append(s('text', { x: M.left - 8, y: yy + 4, class: 'ylabel' }, this.axis(tv)));
    }
    // x labels on round 10- or 15-minute marks, as many as fit.
    const stepMin = iw < 320 ? 20 : iw < 520 ? 15 : 10;
    for (let i = 0; i < n; i++) {
      const t = d.times[i];
      if (t.getMinutes() % stepMin !== 0) continue;
      const xx = Math.round(x(i)) + 0.5;
      if (xx < M.left + 14 || xx > width - M.right - 14) continue;
      grid.append(s('line', { x1: xx, x2: xx, y1: M.top + ih, y2: M.top + ih + 4, class: 'tick' }));
      grid.append(s('text', { x: xx, y: HEIGHT - 6, class: 'xlabel' }, hm(t)));
    }
    svg.append(grid);

    for (const sr of this.series) {
      const vals = d.values[sr.key] ?? [];
      const g = s('g', { class: `c-${sr.color}` });
      const done = vals.slice(0, n - 1);
      if (sr.area) g.append(s('path', { class: 'area', d: areaPath(done, x, y, M.top + ih) }));
      g.append(s('path', { class: 'series', 'data-key': sr.key, d: linePath(done, x, y) }));
      if (n >= 2 && vals[n - 2] !== null && vals[n - 1] !== null) {
        g.append(s('path', { class: 'series partial', d: `M${x(n - 2)},${y(vals[n - 2])}L${x(n - 1)},${y(vals[n - 1])}` }));
      }
      svg.append(g);
    }
    if (!any) {
      svg.append(s('text', { x: M.left + iw / 2, y: M.top + ih / 2, class: 'chart-empty' }, this.emptyText));
    }
    this.cursor = s('g', { class: 'cursor', visibility: 'hidden' },
      s('line', { y1: M.top, y2: M.top + ih }),
      this.series.map((sr) => s('circle', { r: 3.5, class: `c-${sr.color}`, 'data-key': sr.key })));
    svg.append(this.cursor);
    const hit = s('rect', { x: M.left, y: M.top, width: iw, height: ih, class: 'hit' });
    hit.addEventListener('pointermove', (e) => this.point(e));
    hit.addEventListener('pointerleave', () => { this.hover = null; this.showHover(); });
    svg.append(hit);
    replace(this.plot, svg);
    this.showHover();
  }

  point(e) {
    const { n } = this.geom;
    const rect = e.currentTarget.getBoundingClientRect();
    const f = (e.clientX - rect.left) / rect.width;
    this.hover = Math.max(0, Math.min(n - 1, Math.round(f * (n - 1))));
    this.showHover();
  }

  showHover() {
    const i = this.hover;
    const d = this.data;
    if (i === null || !d || i >= d.times.length) {
      this.cursor?.setAttribute('visibility', 'hidden');
      this.tip.hidden = true;
      return;
    }
    const { x, y, width } = this.geom;
    const xx = x(i);
    this.cursor.setAttribute('visibility', 'visible');
    const line = this.cursor.querySelector('line');
    line.setAttribute('x1', xx);
    line.setAttribute('x2', xx);
    for (const c of this.cursor.querySelectorAll('circle')) {
      const v = d.values[c.dataset.key]?.[i];
      c.setAttribute('visibility', v === null || v === undefined ? 'hidden' : 'visible');
      c.setAttribute('cx', xx);
      c.setAttribute('cy', y(v ?? 0));
    }
    const partial = i === d.times.length - 1;
    replace(this.tip,
      h('div', { class: 'tip-time' }, 'Minute of ', hm(d.times[i]), partial ? ' (in progress)' : ''),
      this.series.map((sr) => {
        const v = d.values[sr.key]?.[i];
        return h('div', { class: `tip-row c-${sr.color}` }, h('span', { class: 'swatch' }),
          h('span', { class: 'tip-label' }, sr.label), h('span', { class: 'tip-value' }, v === null || v === undefined ? '—' : this.format(v)));
      }));
    this.tip.hidden = false;
    const tw = this.tip.offsetWidth;
    const left = xx + 12 + tw > width ? xx - 12 - tw : xx + 12;
    this.tip.style.left = `${Math.max(0, left)}px`;
  }
}

function linePath(vals, x, y) {
  let d = '';
  let pen = false;
  vals.forEach((v, i) => {
    if (v === null) { pen = false; return; }
    d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  });
  return d;
}

function areaPath(vals, x, y, base) {
  let d = '';
  let run = [];
  const flush = () => {
    if (run.length > 1) {
      d += `M${x(run[0]).toFixed(1)},${base}`;
      for (const i of run) d += `L${x(i).toFixed(1)},${y(vals[i]).toFixed(1)}`;
      d += `L${x(run[run.length - 1]).toFixed(1)},${base}Z`;
    }
    run = [];
  };
  vals.forEach((v, i) => { if (v === null) flush(); else run.push(i); });
  flush();
  return d;
}

// binaryUnit is the power of 1024 at or below hi, so that byte ticks read 16 MiB, not 15.3 MiB.
export function binaryUnit(hi) {
  return 1024 ** Math.max(0, Math.floor(Math.log(hi) / Math.log(1024)));
}

// niceTicks returns 0 and 3 to 5 round steps up to at least hi.
export function niceTicks(hi) {
  if (!(hi > 0)) return [0, 1];
  const raw = hi / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw);
  const out = [];
  for (let v = 0; v < hi + step * 0.001; v += step) out.push(Number(v.toPrecision(12)));
  if (out[out.length - 1] < hi) out.push(Number((out[out.length - 1] + step).toPrecision(12)));
  return out;
}
