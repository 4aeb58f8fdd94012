/** A titled text table, printed by the runner and kept out of the JSON results. */
export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
}

/** The table as aligned text: the first column left-aligned, the others right-aligned. */
export function formatTable(table: Table): string {
  const widths = table.columns.map((c, i) => Math.max(c.length, ...table.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    widths.map((w, i) => (i === 0 ? (cells[i] ?? '').padEnd(w) : (cells[i] ?? '').padStart(w))).join('  ').trimEnd();
  return [`### ${table.title}`, line(table.columns), widths.map((w) => '-'.repeat(w)).join('  '), ...table.rows.map(line)].join('\n');
}
