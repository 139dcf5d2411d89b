/** `egox inspect`: what a checkpoint holds (tensors, dtypes, sizes, files), without reading tensor data: safetensors, PyTorch or GGUF (GGML types, PyTorch-order shapes). */
import { Checkpoint, type CheckpointKind } from './checkpoint.ts';
import { isPytorchCheckpointPath, PytorchCheckpoint, type JsonLike } from './pytorch/index.ts';
import { GgufFile, type GgufValue } from './gguf/index.ts';

export interface InspectTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: number;
  file: string;
}

export interface InspectReport {
  path: string;
  kind: CheckpointKind | 'pytorch' | 'gguf';
  /** Sorted by name. */
  tensors: InspectTensor[];
  metadata: Record<string, string>;
  warnings: string[];
  /** A PyTorch checkpoint's entries besides its state dict (e.g. model_config); {} otherwise. */
  entries: Record<string, JsonLike>;
  totals: {
    count: number;
    bytes: number;
    /** Bytes per dtype, e.g. { BF16: 123, F32: 456 }. */
    bytesByDtype: Record<string, number>;
    /** The safetensors files read. */
    files: string[];
  };
}

export async function inspectCheckpoint(path: string): Promise<InspectReport> {
  if (path.toLowerCase().endsWith('.gguf')) {
    const g = await GgufFile.open(path);
    try {
      const metadata = { format: `gguf v${g.version}`, alignment: String(g.alignment) } as Record<string, string>;
      for (const [k, v] of g.metadata) metadata[k] = metadataText(v);
      return summarize(path, 'gguf', { tensors: g.tensors, metadata, warnings: g.warnings }, [path], {});
    } finally {
      await g.close();
    }
  }
  if (await isPytorchCheckpointPath(path)) {
    const ckpt = await PytorchCheckpoint.open(path);
    try {
      return summarize(path, 'pytorch', ckpt, [path], { ...ckpt.entries });
    } finally {
      await ckpt.close();
    }
  }
  const ckpt = await Checkpoint.open(path);
  try {
    return summarize(path, ckpt.kind, ckpt, ckpt.files.map((f) => f.path), {});
  } finally {
    await ckpt.close();
  }
}

/** What summarize reads of any opened checkpoint. */
interface Listing {
  tensors: ReadonlyMap<string, { name: string; dtype: string; shape: number[]; byteLength: number; file: string }>;
  metadata: Readonly<Record<string, string>>;
  warnings: readonly string[];
}

/** A GGUF metadata value as text (long arrays summarised). */
function metadataText(v: GgufValue): string {
  if (Array.isArray(v)) return v.length > 16 ? `[${v.length} items]` : `[${v.map(metadataText).join(', ')}]`;
  return String(v);
}

function summarize(path: string, kind: InspectReport['kind'], ckpt: Listing, files: string[],
  entries: Record<string, JsonLike>): InspectReport {
  const tensors = [...ckpt.tensors.values()]
    .map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape], bytes: t.byteLength, file: t.file }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const bytesByDtype: Record<string, number> = {};
  let bytes = 0;
  for (const t of tensors) {
    bytesByDtype[t.dtype] = (bytesByDtype[t.dtype] ?? 0) + t.bytes;
    bytes += t.bytes;
  }
  return {
    path,
    kind,
    tensors,
    metadata: { ...ckpt.metadata },
    warnings: [...ckpt.warnings],
    entries,
    totals: { count: tensors.length, bytes, bytesByDtype, files },
  };
}

const MiB = 1024 * 1024;

function mib(bytes: number): string {
  return (bytes / MiB).toFixed(bytes < MiB ? 3 : 1);
}

/** A plain-text table (name, dtype, shape, MiB, and the file when there are several), then totals. */
export function formatInspectReport(r: InspectReport): string {
  const multi = r.totals.files.length > 1;
  const base = (f: string): string => f.split(/[\\/]/).pop() ?? f;
  const rows = r.tensors.map((t) => [t.name, t.dtype, `[${t.shape.join(', ')}]`, mib(t.bytes), ...(multi ? [base(t.file)] : [])]);
  const head = ['name', 'dtype', 'shape', 'MiB', ...(multi ? ['file'] : [])];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();

  const out: string[] = [line(head), line(widths.map((w) => '-'.repeat(w)))];
  for (const row of rows) out.push(line(row));
  out.push('');
  out.push(`${r.totals.count} tensors, ${mib(r.totals.bytes)} MiB in ${r.totals.files.length} file${r.totals.files.length === 1 ? '' : 's'} (${r.path})`);
  for (const [dtype, b] of Object.entries(r.totals.bytesByDtype).sort()) {
    out.push(`  ${dtype.padEnd(5)} ${mib(b).padStart(10)} MiB`);
  }
  const meta = Object.entries(r.metadata);
  if (meta.length > 0) {
    out.push('metadata:');
    for (const [k, v] of meta) out.push(`  ${k}: ${v.length > 100 ? `${v.slice(0, 97)}...` : v}`);
  }
  const entries = Object.entries(r.entries);
  if (entries.length > 0) {
    out.push('entries:');
    for (const [k, v] of entries) out.push(`  ${k}: ${JSON.stringify(v)}`);
  }
  for (const w of r.warnings) out.push(`warning: ${w}`);
  return out.join('\n');
}
