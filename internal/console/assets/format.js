// Number, size and time formatting shared by the views.

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

// bytes formats a byte count with binary units: 0 B, 930 B, 4.2 KiB, 12 MiB.
export function bytes(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  let i = 0;
  let v = Math.abs(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  const digits = i === 0 ? 0 : v < 10 ? 1 : 0;
  return `${(Math.sign(n) * v).toFixed(digits)} ${units[i]}`;
}

const plain = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDec = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
const compactFmt = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

// count formats a count: 7, 1,234, 123,456, 12.3M from ten million on.
export function count(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  if (Math.abs(n) >= 1e7) return compactFmt.format(n);
  return plain.format(n);
}

// rate formats a per-second rate, with a decimal below 10.
export function rate(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  if (n === 0) return '0';
  if (Math.abs(n) < 10) return oneDec.format(n);
  return count(n);
}

// compact formats an axis value: 0, 850, 1.2K, 3M.
export function compact(n) {
  return compactFmt.format(n);
}

// duration formats seconds: 42 s, 3 min 5 s, 1 h 20 min.
export function duration(sec) {
  if (sec === null || sec === undefined || Number.isNaN(sec)) return '—';
  sec = Math.max(0, Math.round(sec));
  if (sec < 60) return `${sec} s`;
  const m = Math.floor(sec / 60);
  if (m < 60) return sec % 60 ? `${m} min ${sec % 60} s` : `${m} min`;
  const hr = Math.floor(m / 60);
  return m % 60 ? `${hr} h ${m % 60} min` : `${hr} h`;
}

// millis formats milliseconds: 0 ms, 850 ms, 4.2 s, then as duration does from a minute on.
export function millis(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  ms = Math.max(0, Math.round(ms));
  if (ms < 1000) return `${ms} ms`;
  if (ms < 10000) return `${oneDec.format(ms / 1000)} s`;
  return duration(ms / 1000);
}

// axisDuration formats a duration on an axis, in one unit: 45 s, 2.5 min, 3 h.
export function axisDuration(sec) {
  if (sec === 0) return '0';
  if (sec < 120) return `${sec} s`;
  if (sec < 7200) return `${Number((sec / 60).toFixed(1))} min`;
  return `${Number((sec / 3600).toFixed(1))} h`;
}

// durationUnit is the unit in seconds of the ticks of an axis of durations up to hi.
export function durationUnit(hi) {
  return hi >= 7200 ? 3600 : hi >= 120 ? 60 : 1;
}

// ago formats how long before now (both Dates) t was.
export function ago(t, now) {
  const sec = Math.round((now - t) / 1000);
  if (sec < 5) return 'just now';
  if (sec < 60) return `${sec} s ago`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min ago`;
  if (sec < 86400) return `${Math.floor(sec / 3600)} h ago`;
  if (sec < 30 * 86400) return `${Math.floor(sec / 86400)} d ago`;
  return dateTime(t);
}

const timeFmt = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const hmFmt = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false });
const dateFmt = new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit' });

// clock formats the time of day: 14:03:27.
export function clock(t) { return timeFmt.format(t); }

// hm formats hours and minutes: 14:03.
export function hm(t) { return hmFmt.format(t); }

// dateTime formats a full local time: 2025-03-14 14:03:27.
export function dateTime(t) { return `${dateFmt.format(t)} ${timeFmt.format(t)}`; }

// bucketName strips the ARN prefix from an S3 bucket ARN.
export function bucketName(b) {
  return (b ?? '').replace(/^arn:[^:]*:s3:::/, '');
}
