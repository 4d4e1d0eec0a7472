// The console page: a list of delivery streams and a page per stream, routed on the URL
// (/console/ and /console/streams/{name}) and refreshed by polling the JSON API.

import { h, s, replace } from './dom.js';
import * as fmt from './format.js';
import { Chart, binaryUnit } from './chart.js';

const POLL_MS = 3000;
const API = '/console/api';
const app = document.getElementById('app');
const live = document.getElementById('live');

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function get(path) {
  const r = await fetch(API + path, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, body.error || r.statusText);
  return body;
}

// Poller calls fn now and again POLL_MS after each call settles, until stopped.
class Poller {
  constructor(fn) { this.fn = fn; this.timer = null; this.stopped = false; }
  start() { this.tick(); }
  stop() { this.stopped = true; clearTimeout(this.timer); }
  async tick() {
    if (this.stopped || this.busy) return;
    clearTimeout(this.timer);
    this.busy = true;
    try {
      await this.run();
    } finally {
      this.busy = false;
    }
    if (!this.stopped) this.timer = setTimeout(() => this.tick(), POLL_MS);
  }
  async run() {
    if (!document.hidden) {
      try {
        await this.fn();
        setLive('ok', `Live · updated ${fmt.clock(new Date())}`);
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof ApiError && err.status === 404) setLive('ok', `Live · updated ${fmt.clock(new Date())}`);
        else setLive('error', 'Connection lost · retrying');
        console.warn('console: refresh failed:', err.message);
      }
    }
  }
}

function setLive(state, text) {
  live.dataset.state = state;
  live.querySelector('.live-text').textContent = text;
}

// ---- shared pieces ----

const statusTone = {
  ACTIVE: 'ok', CREATING: 'info', UPDATING: 'info', DELETING: 'muted',
  CREATING_FAILED: 'bad', DELETING_FAILED: 'bad', SUSPENDED: 'warn',
};

function badge(status) {
  const tone = statusTone[status] ?? (status?.endsWith('FAILED') ? 'bad' : 'muted');
  return h('span', { class: `badge tone-${tone}`, 'data-status': status }, h('span', { class: 'badge-dot' }), (status || 'UNKNOWN').replaceAll('_', ' '));
}

const typeNames = {
  DirectPut: 'Direct PUT', KinesisStreamAsSource: 'Kinesis stream', MSKAsSource: 'Amazon MSK', DatabaseAsSource: 'Database',
};

function streamType(t) { return typeNames[t] ?? t ?? '—'; }

function streamLink(name, ...children) {
  return h('a', { href: `/console/streams/${encodeURIComponent(name)}`, 'data-nav': true }, ...children);
}

function tile(label, value, note, name) {
  return h('div', { class: 'tile', 'data-tile': name }, h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-value' }, value), note ? h('div', { class: 'tile-note' }, note) : null);
}

function freshnessTone(sec) {
  if (sec === null || sec === undefined) return '';
  return sec > 3600 ? 'bad' : sec > 900 ? 'warn' : '';
}

function sparkline(values) {
  const w = 120;
  const ht = 28;
  const hi = Math.max(...values, 0);
  if (!values.length || hi === 0) {
    return s('svg', { class: 'spark', viewBox: `0 0 ${w} ${ht}`, width: w, height: ht, 'aria-hidden': 'true' },
      s('line', { x1: 0, x2: w, y1: ht - 1.5, y2: ht - 1.5, class: 'spark-flat' }));
  }
  const step = w / Math.max(1, values.length - 1);
  const pts = values.map((v, i) => `${(i * step).toFixed(1)},${(ht - 2 - (v / hi) * (ht - 4)).toFixed(1)}`);
  return s('svg', { class: 'spark', viewBox: `0 0 ${w} ${ht}`, width: w, height: ht, 'aria-hidden': 'true' },
    s('path', { class: 'spark-area', d: `M0,${ht}L${pts.join('L')}L${w},${ht}Z` }),
    s('path', { class: 'spark-line', d: `M${pts.join('L')}` }));
}

function empty(title, text, extra) {
  return h('div', { class: 'empty' }, h('div', { class: 'empty-title' }, title), h('p', {}, text), extra ?? null);
}

// breakable lets a long key wrap after its slashes rather than anywhere.
function breakable(key) {
  return key.split('/').flatMap((part, i, all) => (i < all.length - 1 ? [part + '/', h('wbr')] : [part]));
}

function timeCell(t, now) {
  const d = new Date(t);
  return h('td', { class: 'time', title: fmt.dateTime(d) }, h('span', { class: 'clock' }, fmt.clock(d)), h('span', { class: 'ago' }, fmt.ago(d, now)));
}

// ---- the cluster ----

// nodeBadge shows whether a node's heartbeat was seen in the last round.
function nodeBadge(n) {
  return n.live
    ? h('span', { class: 'badge tone-ok', 'data-live': 'true' }, h('span', { class: 'badge-dot' }), 'live')
    : h('span', { class: 'badge tone-bad', 'data-live': 'false' }, h('span', { class: 'badge-dot' }), 'down');
}

// nodeNamed finds a node of the cluster by name; a node the cluster does not list is down.
function nodeNamed(cluster, name) {
  return cluster.nodes?.find((n) => n.name === name) ?? { name, live: false, streams: 0 };
}

// deliveredBy shows the node that delivers a stream: its name, marked when it is this node,
// and flagged when it is down.
function deliveredBy(cluster, name) {
  if (!name) return h('span', { class: 'muted' }, 'no node yet');
  const n = nodeNamed(cluster, name);
  return h('span', { class: 'node-ref', 'data-node': name },
    h('span', { class: 'mono' }, name),
    n.self ? h('span', { class: 'chip' }, 'this node') : null,
    n.live ? null : nodeBadge(n));
}

// clusterPanel lists the nodes of a cluster: live or down, address, uptime, streams delivered.
function clusterPanel(c, now) {
  const nodes = c.nodes ?? [];
  const live = nodes.filter((n) => n.live).length;
  return [
    h('header', { class: 'card-head' }, h('h2', {}, 'Cluster'),
      h('span', { class: 'count' }, `${nodes.length} ${nodes.length === 1 ? 'node' : 'nodes'} · ${live} live · ${c.replicas} ${c.replicas === 1 ? 'replica' : 'replicas'}`)),
    h('table', { class: 'table nodes' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Node'), h('th', {}, 'Status'), h('th', {}, 'API address'), h('th', {}, 'Started'), h('th', { class: 'num' }, 'Streams delivered'))),
      h('tbody', {}, nodes.map((n) => h('tr', { 'data-node': n.name, 'data-live': String(n.live) },
        h('td', { class: 'name' }, h('span', { class: 'node-ref' }, h('span', { class: 'mono' }, n.name), n.self ? h('span', { class: 'chip' }, 'this node') : null)),
        h('td', {}, nodeBadge(n)),
        h('td', { class: 'mono' }, n.addr || h('span', { class: 'muted' }, 'unknown')),
        n.started ? timeCell(n.started, now) : h('td', { class: 'muted' }, '—'),
        h('td', { class: 'num', 'data-col': 'streams' }, fmt.count(n.streams)))))),
  ];
}

// incompleteNotice tells that metrics hold only this node's share, or is null when they are whole.
function incompleteNotice(inc, cluster) {
  if (!inc) return null;
  const nodes = inc.nodes ?? [];
  const who = nodes.length === 0 ? 'some nodes' : `${nodes.length === 1 ? 'node' : 'nodes'} ${nodes.join(', ')}`;
  const self = cluster?.node ? ` (${cluster.node})` : '';
  return h('div', { class: 'notice', role: 'status', 'data-notice': 'incomplete', title: inc.error },
    h('strong', {}, 'Incomplete metrics.'), ` Metrics of ${who} unavailable; showing this node’s share${self}.`);
}

// ---- the stream list ----

// journalTile shows how full the journal is: what it holds of what it may hold before puts
// are refused, and the room kept for delivery state.
function journalTile(j) {
  if (!j) return null;
  const limit = j.limitBytes >= 0 ? ` of ${fmt.bytes(j.limitBytes)}` : '';
  const note = `${fmt.bytes(j.reservedBytes)} kept for delivery state` + (j.diskBytes ? ` · ${fmt.bytes(j.diskFreeBytes)} free on disk` : '');
  return h('div', { class: 'tile', 'data-tile': 'journal', 'data-full': String(j.full) },
    h('div', { class: 'tile-label' }, 'Journal'),
    h('div', { class: `tile-value${j.full ? ' bad' : ''}` }, fmt.bytes(j.storeBytes), h('small', {}, limit)),
    h('div', { class: 'tile-note' }, j.full ? 'full: puts are refused until delivery frees room' : note));
}

// memoryTile shows the memory budget: what request bodies, delivery buffers and journal
// read-ahead hold of it, its peak, and the requests refused for lack of it.
function memoryTile(m) {
  if (!m || !m.limitBytes) return null;
  const full = m.usedBytes >= m.limitBytes;
  const note = `peak ${fmt.bytes(m.peakBytes)}` + (m.refusedRequests ? ` · ${m.refusedRequests} puts told to slow down` : '');
  return h('div', { class: 'tile', 'data-tile': 'memory' },
    h('div', { class: 'tile-label' }, 'Memory budget'),
    h('div', { class: `tile-value${full ? ' bad' : ''}` }, fmt.bytes(m.usedBytes), h('small', {}, ` of ${fmt.bytes(m.limitBytes)}`)),
    h('div', { class: 'tile-note' }, note));
}

class ListView {
  constructor() {
    document.title = 'Delivery streams · Hydrant';
    this.sub = h('p', { class: 'page-sub' }, 'Loading…');
    this.tiles = h('div', { class: 'tiles' });
    this.notice = h('div', { hidden: true });
    this.cluster = h('section', { class: 'card', 'data-panel': 'cluster', hidden: true });
    this.body = h('div', { class: 'card table-card' });
    this.el = h('div', { class: 'page', 'data-view': 'list' },
      h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Delivery streams'), this.sub)),
      this.notice, this.tiles, this.cluster, this.body);
    this.poller = new Poller(() => this.refresh());
  }

  start() { this.poller.start(); }
  stop() { this.poller.stop(); }

  async refresh() {
    const data = await get('/streams');
    const now = new Date(data.now);
    const list = data.streams ?? [];
    const active = list.filter((x) => x.status === 'ACTIVE').length;
    this.sub.textContent = list.length === 0 ? 'No streams yet'
      : `${list.length} ${list.length === 1 ? 'stream' : 'streams'} · ${active} active · rates over the last minute`;
    const sum = (k) => list.reduce((a, x) => a + (x[k] ?? 0), 0);
    const fresh = list.map((x) => x.freshnessSeconds).filter((v) => v !== null && v !== undefined);
    replace(this.tiles,
      tile('Incoming records', h('span', {}, fmt.rate(sum('incomingRecordsPerSecond')), h('small', {}, ' /s')), 'all streams'),
      tile('Incoming bytes', h('span', {}, fmt.bytes(sum('incomingBytesPerSecond')), h('small', {}, ' /s')), 'all streams'),
      tile('Oldest undelivered data', fresh.length ? fmt.duration(Math.max(...fresh)) : '—', fresh.length ? 'worst data freshness' : 'nothing waiting'),
      journalTile(data.journal),
      memoryTile(data.memory));
    const cl = data.cluster ?? null;
    replace(this.notice, incompleteNotice(data.incomplete, cl));
    this.notice.hidden = !data.incomplete;
    this.cluster.hidden = !cl;
    replace(this.cluster, cl ? clusterPanel(cl, now) : null);
    if (list.length === 0) {
      replace(this.body, empty('No delivery streams yet',
        'Create one with the AWS CLI, an SDK or the config file; it shows up here within seconds.',
        h('pre', { class: 'hint' }, 'aws firehose create-delivery-stream --endpoint-url http://127.0.0.1:4573 \\\n  --delivery-stream-name my-stream \\\n  --extended-s3-destination-configuration BucketARN=arn:aws:s3:::my-bucket,RoleARN=arn:aws:iam::000000000000:role/firehose')));
      return;
    }
    const rows = list.map((x) => h('tr', { 'data-stream': x.name, onclick: (e) => { if (!e.target.closest('a')) navigate(`/console/streams/${encodeURIComponent(x.name)}`); } },
      h('td', { class: 'name' }, streamLink(x.name, x.name), h('div', { class: 'cell-note' }, 'created ', fmt.ago(new Date(x.created), now))),
      h('td', {}, badge(x.status)),
      h('td', {}, streamType(x.type)),
      h('td', { class: 'dest' }, h('div', {}, x.destination || '—'), x.bucket ? h('div', { class: 'cell-note mono' }, fmt.bucketName(x.bucket)) : null),
      h('td', { class: 'num', 'data-col': 'records' }, fmt.rate(x.incomingRecordsPerSecond)),
      h('td', { class: 'num', 'data-col': 'bytes' }, fmt.bytes(x.incomingBytesPerSecond), h('span', { class: 'unit' }, '/s')),
      h('td', { class: `num ${freshnessTone(x.freshnessSeconds)}`, 'data-col': 'freshness' }, fmt.duration(x.freshnessSeconds)),
      cl ? h('td', { 'data-col': 'node' }, deliveredBy(cl, x.deliveredBy)) : null,
      h('td', { class: 'trend' }, sparkline(x.trend ?? []))));
    replace(this.body, h('table', { class: 'table streams' },
      h('thead', {}, h('tr', {},
        h('th', {}, 'Name'), h('th', {}, 'Status'), h('th', {}, 'Source'), h('th', {}, 'Destination'),
        h('th', { class: 'num' }, 'Records/s'), h('th', { class: 'num' }, 'Bytes/s'), h('th', { class: 'num' }, 'Freshness'),
        cl ? h('th', {}, 'Delivered by') : null,
        h('th', { class: 'trend' }, 'Bytes in, 30 min'))),
      h('tbody', {}, rows)));
  }
}

// ---- one stream ----

const kinds = {
  ExtendedS3DestinationDescription: 'Amazon S3',
  S3DestinationDescription: 'Amazon S3',
  HttpEndpointDestinationDescription: 'HTTP endpoint',
  AmazonopensearchserviceDestinationDescription: 'OpenSearch',
  ElasticsearchDestinationDescription: 'Elasticsearch',
  RedshiftDestinationDescription: 'Redshift',
  SplunkDestinationDescription: 'Splunk',
  IcebergDestinationDescription: 'Apache Iceberg',
  SnowflakeDestinationDescription: 'Snowflake',
};

const mainParam = {
  Lambda: 'LambdaArn',
  MetadataExtraction: 'MetadataExtractionQuery',
  RecordDeAggregation: 'SubRecordType',
  AppendDelimiterToRecord: 'Delimiter',
  Decompression: 'CompressionFormat',
  CloudWatchLogProcessing: 'DataMessageExtraction',
};

function code(text) { return h('code', {}, text); }

// facts picks what matters most out of a DeliveryStreamDescription.
function facts(desc) {
  const d = desc?.DeliveryStreamDescription ?? desc ?? {};
  const dest = d.Destinations?.[0] ?? {};
  const [kindKey, c = {}] = Object.entries(dest).find(([k, v]) => k.endsWith('DestinationDescription') && v) ?? [];
  const out = [];
  out.push(['Destination', kinds[kindKey] ?? (kindKey ? kindKey.replace('DestinationDescription', '') : h('span', { class: 'muted' }, 'None yet'))]);
  if (c.BucketARN) out.push(['Bucket', code(fmt.bucketName(c.BucketARN))]);
  if (c.EndpointConfiguration?.Url) out.push(['Endpoint', code(c.EndpointConfiguration.Url)]);
  const b = c.BufferingHints ?? {};
  if (b.SizeInMBs || b.IntervalInSeconds) {
    out.push(['Buffering', `${b.SizeInMBs ?? 5} MiB or ${fmt.duration(b.IntervalInSeconds ?? 300)}, whichever first`]);
  }
  const comp = c.CompressionFormat ?? c.RequestConfiguration?.ContentEncoding;
  if (comp) out.push(['Compression', comp === 'UNCOMPRESSED' || comp === 'NONE' ? 'None' : comp]);
  if (kindKey?.includes('S3')) {
    out.push(['Prefix', c.Prefix ? code(c.Prefix) : h('span', { class: 'muted' }, 'default (YYYY/MM/dd/HH/)')]);
    out.push(['Error prefix', c.ErrorOutputPrefix ? code(c.ErrorOutputPrefix) : h('span', { class: 'muted' }, 'default')]);
  }
  const pc = c.ProcessingConfiguration;
  const procs = pc?.Enabled ? pc.Processors ?? [] : [];
  out.push(['Processors', procs.length === 0 ? h('span', { class: 'muted' }, 'None')
    : h('ul', { class: 'procs' }, procs.map((p) => {
      const param = (p.Parameters ?? []).find((x) => x.ParameterName === mainParam[p.Type]);
      return h('li', {}, h('span', { class: 'chip' }, p.Type), param ? code(param.ParameterValue) : null);
    }))]);
  const dp = c.DynamicPartitioningConfiguration;
  out.push(['Dynamic partitioning', dp?.Enabled ? h('span', { class: 'on' }, 'Enabled') : h('span', { class: 'muted' }, 'Disabled')]);
  const conv = c.DataFormatConversionConfiguration;
  if (conv?.Enabled) {
    const ser = conv.OutputFormatConfiguration?.Serializer ?? {};
    out.push(['Format conversion', ser.ParquetSerDe ? 'Apache Parquet' : ser.OrcSerDe ? 'Apache ORC' : 'Enabled']);
  }
  if (c.FileExtension) out.push(['File extension', code(c.FileExtension)]);
  if (c.CustomTimeZone) out.push(['Time zone', c.CustomTimeZone]);
  out.push(['Source', streamType(d.DeliveryStreamType)]);
  const ksrc = d.Source?.KinesisStreamSourceDescription?.KinesisStreamARN;
  if (ksrc) out.push(['Kinesis stream', code(ksrc)]);
  const msk = d.Source?.MSKSourceDescription;
  if (msk?.MSKClusterARN) out.push(['MSK cluster', code(msk.MSKClusterARN)]);
  if (msk?.TopicName) out.push(['Topic', code(msk.TopicName)]);
  const enc = d.DeliveryStreamEncryptionConfiguration?.Status;
  if (enc) out.push(['Encryption', enc]);
  if (d.VersionId) out.push(['Version', d.VersionId]);
  if (d.CreateTimestamp) out.push(['Created', fmt.dateTime(new Date(d.CreateTimestamp * 1000))]);
  if (d.LastUpdateTimestamp) out.push(['Last updated', fmt.dateTime(new Date(d.LastUpdateTimestamp * 1000))]);
  return { arn: d.DeliveryStreamARN, failure: d.FailureDescription, list: out };
}

// highlight renders JSON text as HTML with spans for strings, keys, numbers and literals.
function highlight(json) {
  const esc = json.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
  return esc.replace(/("(?:\\u[0-9a-fA-F]{4}|\\[^u]|[^\\"])*")(\s*:)?|\b(?:true|false|null)\b|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g,
    (m, str, colon) => {
      if (str) return colon ? `<span class="j-key">${str}</span>${colon}` : `<span class="j-str">${str}</span>`;
      return /^[tfn]/.test(m) ? `<span class="j-lit">${m}</span>` : `<span class="j-num">${m}</span>`;
    });
}

// ---- a stream's source ----

const sourceTypes = new Set(['KinesisStreamAsSource', 'MSKAsSource']);
const sourceKinds = { Kinesis: 'Kinesis data stream', MSK: 'Amazon MSK' };
const stateTone = { reading: 'ok', starting: 'info', retrying: 'warn', stopped: 'muted' };

function stateBadge(state) {
  return h('span', { class: `badge tone-${stateTone[state] ?? 'muted'}`, 'data-state': state }, h('span', { class: 'badge-dot' }), state || 'unknown');
}

// sourceLag is how far a reader (or one of its parts) is behind: time behind the newest record
// for Kinesis, records not read yet for Kafka.
function sourceLag(kind, x) {
  return kind === 'MSK' ? `${fmt.count(x.lagRecords)} ${x.lagRecords === 1 ? 'record' : 'records'}` : fmt.millis(x.lagMillis);
}

function lagTone(kind, x) {
  if (kind === 'MSK') return '';
  return x.lagMillis > 3600e3 ? 'bad' : x.lagMillis > 300e3 ? 'warn' : '';
}

// sourcePanel shows the reader of a Kinesis or MSK source: what it reads, how far behind it
// is, what it has read, and its shards or partitions.
function sourcePanel(src, streamType, now) {
  if (!src) {
    return empty('No reader running', streamType === 'MSKAsSource'
      ? 'The topic is read while the stream is ACTIVE.'
      : 'The Kinesis data stream is read while the stream is ACTIVE.');
  }
  const kafka = src.kind === 'MSK';
  const list = [['Kind', sourceKinds[src.kind] ?? src.kind]];
  if (kafka) {
    const i = (src.source ?? '').indexOf(' ');
    list.push(['Cluster', code(i < 0 ? src.source : src.source.slice(0, i))]);
    if (i >= 0) list.push(['Topic', code(src.source.slice(i + 1))]);
  } else {
    list.push(['Kinesis stream', code(src.source)]);
  }
  list.push(['State', stateBadge(src.state)]);
  list.push(['Lag', h('span', { class: lagTone(src.kind, src), 'data-fact': 'lag' }, sourceLag(src.kind, src)),
    h('div', { class: 'cell-note' }, kafka ? 'not read yet, all partitions' : 'behind the newest record, worst open shard')]);
  list.push(['Read since start', `${fmt.count(src.records)} records · ${fmt.bytes(src.bytes)}`]);
  list.push(['Throttled', src.throttled ? h('span', { class: 'warn' }, fmt.count(src.throttled)) : '0']);
  const errAt = src.lastErrorAt ? new Date(src.lastErrorAt) : null;
  const items = list.map(([k, ...v]) => h('div', { class: 'fact' }, h('dt', {}, k), h('dd', {}, v)));
  if (src.lastError) {
    items.push(h('div', { class: 'fact wide', 'data-fact': 'error' }, h('dt', {}, 'Last error'),
      h('dd', { class: 'bad' }, src.lastError, errAt ? h('span', { class: 'cell-note', title: fmt.dateTime(errAt) }, ' · ', fmt.ago(errAt, now)) : null)));
  }
  const parts = src.parts ?? [];
  const unit = kafka ? 'Partition' : 'Shard';
  return [
    h('dl', { class: 'facts' }, items),
    parts.length === 0
      ? empty(kafka ? 'No partitions yet' : 'No shards yet', 'They appear once the reader has listed them.')
      : h('table', { class: 'table parts' },
        h('thead', {}, h('tr', {}, h('th', {}, unit), h('th', {}, kafka ? 'Next offset' : 'Last sequence number'), h('th', {}, 'Status'), h('th', { class: 'num' }, 'Lag'))),
        h('tbody', {}, parts.map((p) => h('tr', { 'data-part': p.id, 'data-done': String(p.done) },
          h('td', { class: 'mono code' }, p.id),
          h('td', { class: 'mono key' }, p.position || h('span', { class: 'muted' }, 'none yet')),
          h('td', {}, p.done ? h('span', { class: 'badge tone-muted' }, 'closed, read to the end') : h('span', { class: 'badge tone-ok' }, 'reading')),
          h('td', { class: `num ${p.done ? '' : lagTone(src.kind, p)}`, 'data-col': 'lag' }, p.done ? '—' : sourceLag(src.kind, p)))))),
  ];
}

// deliveredTile shows the node that delivers a stream, with its address.
function deliveredTile(cluster, name) {
  const n = name ? nodeNamed(cluster, name) : null;
  const note = !n ? 'waiting for a node to take it' : `${n.live ? 'live' : 'down'}${n.addr ? ` · ${n.addr}` : ''}`;
  return h('div', { class: 'tile', 'data-tile': 'node' },
    h('div', { class: 'tile-label' }, 'Delivered by'),
    h('div', { class: 'tile-value' }, deliveredBy(cluster, name)),
    h('div', { class: `tile-note${n && !n.live ? ' bad' : ''}` }, note));
}

// deliveredTo names where a destination kind delivers, for the delivered series and tile.
const deliveredToKinds = { ExtendedS3: 'Delivered to S3', S3: 'Delivered to S3', HttpEndpoint: 'Delivered to the endpoint' };

function deliveredTo(kind) { return deliveredToKinds[kind] ?? 'Delivered'; }

const failureTone = { delivery: 'bad', processing: 'warn', partitioning: 'violet' };

class StreamView {
  constructor(name) {
    this.name = name;
    document.title = `${name} · Hydrant`;
    const q = `/streams/${encodeURIComponent(name)}`;
    this.paths = [q, `${q}/metrics`, `${q}/objects?limit=15`, `${q}/failures?limit=15`];
    this.badge = h('span', {});
    this.sub = h('p', { class: 'page-sub mono' }, '');
    this.tiles = h('div', { class: 'tiles' });
    this.facts = h('dl', { class: 'facts' });
    this.alert = h('div', { hidden: true });
    this.notice = h('div', { hidden: true });
    this.sourceState = h('span', { class: 'count' });
    this.sourceBody = h('div', { class: 'card-body' });
    this.source = h('section', { class: 'card source', 'data-panel': 'source', hidden: true },
      h('header', { class: 'card-head' }, h('h2', {}, 'Source'), this.sourceState), this.sourceBody);
    this.json = h('pre', { class: 'json' });
    this.descText = '';
    const copy = h('button', { type: 'button', class: 'btn', onclick: async () => {
      try { await navigator.clipboard.writeText(this.descText); copy.textContent = 'Copied'; } catch { copy.textContent = 'Copy failed'; }
      setTimeout(() => { copy.textContent = 'Copy JSON'; }, 1500);
    } }, 'Copy JSON');
    this.charts = {
      bytes: new Chart({ title: 'Bytes per minute', unit: binaryUnit, format: fmt.bytes, empty: 'No records in the last hour', series: [
        { key: 'incomingBytes', label: 'Incoming', color: 'in', area: true },
        { key: 'deliveredBytes', label: 'Delivered', color: 'out' }] }),
      records: new Chart({ title: 'Records per minute', format: fmt.count, axis: fmt.compact, empty: 'No records in the last hour', series: [
        { key: 'incomingRecords', label: 'Incoming', color: 'in', area: true },
        { key: 'deliveredRecords', label: 'Delivered', color: 'out' }] }),
      freshness: new Chart({ title: 'Data freshness', format: fmt.duration, axis: fmt.axisDuration, unit: fmt.durationUnit, empty: 'Nothing waiting in the last hour', series: [
        { key: 'freshness', label: 'Oldest record, max per minute', color: 'fresh', area: true }] }),
    };
    this.objects = h('div', { class: 'card-body' });
    this.failures = h('div', { class: 'card-body' });
    this.objCount = h('span', { class: 'count' });
    this.failCount = h('span', { class: 'count' });
    this.content = h('div', { class: 'stream-content' },
      this.alert,
      this.notice,
      this.tiles,
      this.source,
      h('section', { class: 'card config' },
        h('header', { class: 'card-head' }, h('h2', {}, 'Configuration')),
        this.facts,
        h('details', { class: 'raw' }, h('summary', {}, 'DeliveryStreamDescription (JSON)'), h('div', { class: 'raw-tools' }, copy), this.json)),
      h('div', { class: 'section-head' }, h('h2', {}, 'Last hour'), h('span', { class: 'muted' }, 'per minute · dashed: minute in progress')),
      h('div', { class: 'charts' }, Object.values(this.charts).map((c) => c.el)),
      h('section', { class: 'card' }, h('header', { class: 'card-head' }, h('h2', {}, 'Latest delivered objects'), this.objCount), this.objects),
      h('section', { class: 'card' }, h('header', { class: 'card-head' }, h('h2', {}, 'Latest failures'), this.failCount), this.failures));
    this.missing = h('div', { class: 'card', hidden: true }, empty('Stream not found',
      `There is no delivery stream named “${name}”. It may have been deleted.`, h('p', {}, h('a', { href: '/console/', 'data-nav': true }, '← All delivery streams'))));
    this.el = h('div', { class: 'page', 'data-view': 'stream' },
      h('nav', { class: 'crumbs' }, h('a', { href: '/console/', 'data-nav': true }, 'Delivery streams'), h('span', { 'aria-hidden': 'true' }, ' / '), h('span', {}, name)),
      h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, h('span', {}, name), this.badge), this.sub)),
      this.missing, this.content);
    this.poller = new Poller(() => this.refresh());
  }

  start() { this.poller.start(); }
  stop() {
    this.poller.stop();
    for (const c of Object.values(this.charts)) c.destroy();
  }

  async refresh() {
    let res;
    try {
      res = await Promise.all(this.paths.map(get));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        this.missing.hidden = false;
        this.content.hidden = true;
        replace(this.badge);
      }
      throw err;
    }
    this.missing.hidden = true;
    this.content.hidden = false;
    const [detail, metrics, objects, failures] = res;
    const now = new Date(detail.now);
    const st = detail.stream;
    replace(this.badge, badge(st.status));
    const f = facts(detail.description);
    this.sub.textContent = f.arn ?? '';
    this.alert.hidden = !f.failure;
    replace(this.alert, f.failure ? h('div', { class: 'alert' }, h('strong', {}, f.failure.Type), ' ', f.failure.Details) : null);

    // The series are placed by role; the metric behind a role depends on the destination.
    const sums = {};
    for (const sr of metrics.series) sums[sr.role] = sr.points.reduce((a, p) => a + (p.value ?? 0), 0);
    const to = deliveredTo(st.destination);
    const cl = detail.cluster ?? null;
    const inc = detail.incomplete ?? metrics.incomplete;
    replace(this.notice, incompleteNotice(inc, cl));
    this.notice.hidden = !inc;
    replace(this.tiles,
      tile('Incoming records', h('span', {}, fmt.rate(st.incomingRecordsPerSecond), h('small', {}, ' /s')), 'last minute'),
      tile('Incoming bytes', h('span', {}, fmt.bytes(st.incomingBytesPerSecond), h('small', {}, ' /s')), 'last minute'),
      tile('Data freshness', h('span', { class: freshnessTone(st.freshnessSeconds) }, fmt.duration(st.freshnessSeconds)), 'oldest undelivered record'),
      tile(`${to}, last hour`, fmt.bytes(sums.deliveredBytes ?? 0), `${fmt.count(sums.deliveredRecords ?? 0)} records`, 'delivered'),
      cl ? deliveredTile(cl, st.deliveredBy) : null);

    const src = detail.source ?? null;
    this.source.hidden = !src && !sourceTypes.has(st.type);
    if (!this.source.hidden) {
      const n = src?.parts?.length ?? 0;
      const done = src?.parts?.filter((p) => p.done).length ?? 0;
      this.sourceState.textContent = !n ? ''
        : src.kind === 'MSK' ? `${n} ${n === 1 ? 'partition' : 'partitions'}`
          : `${n} ${n === 1 ? 'shard' : 'shards'}${done ? ` · ${done} closed` : ''}`;
      replace(this.sourceBody, sourcePanel(src, st.type, now));
    }

    replace(this.facts, f.list.map(([k, v]) => h('div', { class: 'fact' }, h('dt', {}, k), h('dd', {}, v))));
    const text = JSON.stringify(detail.description, null, 2);
    if (text !== this.descText) {
      this.descText = text;
      this.json.innerHTML = highlight(text);
    }

    const times = metrics.series[0]?.points.map((p) => new Date(p.time)) ?? [];
    const values = Object.fromEntries(metrics.series.map((sr) => [sr.role, sr.points.map((p) => p.value)]));
    this.charts.bytes.relabel('deliveredBytes', to);
    this.charts.records.relabel('deliveredRecords', to);
    for (const c of Object.values(this.charts)) c.update({ times, values });

    const objs = objects.objects ?? [];
    const buckets = [...new Set(objs.map((o) => fmt.bucketName(o.bucket)))];
    this.objCount.textContent = objs.length ? `${buckets.length === 1 ? `s3://${buckets[0]} · ` : ''}latest ${objs.length}` : '';
    replace(this.objects, objs.length === 0
      ? empty('No objects delivered yet', 'Objects appear here once a buffer fills up or its interval passes.')
      : h('table', { class: 'table objects' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Time'), h('th', {}, 'Key'), h('th', { class: 'num' }, 'Size'), h('th', { class: 'num' }, 'Records'))),
        h('tbody', {}, objs.map((o) => h('tr', { 'data-key': o.key },
          timeCell(o.time, now),
          h('td', { class: 'key mono', title: `s3://${fmt.bucketName(o.bucket)}/${o.key}` }, breakable(o.key)),
          h('td', { class: 'num' }, fmt.bytes(o.bytes)),
          h('td', { class: 'num' }, fmt.count(o.records)))))));

    const fails = failures.failures ?? [];
    this.failCount.textContent = fails.length ? `latest ${fails.length}` : '';
    replace(this.failures, fails.length === 0
      ? empty('No failures', 'Every record so far was processed and delivered.')
      : h('table', { class: 'table failures' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Time'), h('th', {}, 'Kind'), h('th', {}, 'Code'), h('th', {}, 'Message'))),
        h('tbody', {}, fails.map((x) => h('tr', {},
          timeCell(x.time, now),
          h('td', {}, h('span', { class: `badge tone-${failureTone[x.kind] ?? 'muted'}` }, x.kind || '—')),
          h('td', { class: 'mono code' }, x.code || '—'),
          h('td', { class: 'msg' }, x.message))))));
  }
}

// ---- routing ----

let view = null;

function route() {
  view?.stop();
  const m = location.pathname.match(/^\/console\/streams\/([^/]+)\/?$/);
  view = m ? new StreamView(decodeURIComponent(m[1])) : new ListView();
  replace(app, view.el);
  view.start();
}

function navigate(href) {
  if (href !== location.pathname) history.pushState(null, '', href);
  route();
  window.scrollTo(0, 0);
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-nav]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.pathname);
});
window.addEventListener('popstate', route);
document.addEventListener('visibilitychange', () => { if (!document.hidden) view?.poller.tick(); });
route();
