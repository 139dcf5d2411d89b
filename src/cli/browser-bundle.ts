// Bundles browser code (the library's browser entry, the studio page, the in-page kernel
// checks) with esbuild, which every install has through tsx. A bundle that would pull in a Node
// module is an error naming the import chain, never a page that fails at load.
import { build, type Metafile } from 'esbuild';

export interface BrowserBundle {
  /** The ES module text. */
  code: string;
  /** Source files that went in (relative to the working directory). */
  inputs: string[];
}

/** `node:` specifiers and Node built-ins the bundle imports, as "importer -> specifier". */
export function nodeImportsOf(meta: Metafile): string[] {
  const found: string[] = [];
  for (const [file, input] of Object.entries(meta.inputs)) {
    for (const imp of input.imports) if (imp.path.startsWith('node:') || imp.external) found.push(`${file} -> ${imp.path}`);
  }
  return found;
}

export async function bundleForBrowser(entry: string, options: { minify?: boolean } = {}): Promise<BrowserBundle> {
  const r = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
    minify: options.minify ?? false,
    sourcemap: false,
    logLevel: 'silent',
  }).catch((e: { errors?: { text: string; location?: { file: string } | null }[] }) => {
    const first = e.errors?.[0];
    throw new Error(`browser bundle of ${entry}: ${first ? `${first.location?.file ?? ''}: ${first.text}` : String(e)}`);
  });
  const nodeImports = nodeImportsOf(r.metafile);
  if (nodeImports.length > 0) throw new Error(`browser bundle of ${entry} imports Node modules: ${nodeImports.join(', ')}`);
  return { code: r.outputFiles[0]!.text, inputs: Object.keys(r.metafile.inputs) };
}
