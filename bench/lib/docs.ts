// Benchmarks write their figures into the docs: markdown tables, and a generated section between
// two marker comments (the prose around it is kept), formatted as `prettier --check` expects.
import { readFileSync, writeFileSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';

export function mdTable(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Replaces what lies between the markers in the file (or appends the section), then formats it. */
export async function writeGeneratedSection(
  path: string,
  markers: { start: string; end: string },
  generated: string,
): Promise<void> {
  const doc = readFileSync(path, 'utf8');
  const i = doc.indexOf(markers.start);
  const j = doc.indexOf(markers.end);
  const next =
    i >= 0 && j > i
      ? `${doc.slice(0, i + markers.start.length)}\n${generated}\n${doc.slice(j)}`
      : `${doc.trimEnd()}\n\n${markers.start}\n${generated}\n${markers.end}\n`;
  writeFileSync(path, await format(next, { ...(await resolveConfig(path)), filepath: path }));
}
