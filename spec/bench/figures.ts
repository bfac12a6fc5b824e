// The figures issue 14 asks `npm run bench` to print, as the label prefixes of its `FIGURE …` lines (shared by the
// specs that run the bench).
import { adapterFindingLabel, frameworks, identityKinds } from '../../bench/scenarios/adapters.js';
import { anchorFindingLabels } from '../../bench/scenarios/anchor.js';
import { cacheMissFindingLabel } from '../../bench/scenarios/cache-miss.js';
import { memoryFindingLabel } from '../../bench/scenarios/memory.js';
import { perConnectionFindingLabel } from '../../bench/scenarios/per-connection.js';
import {
  entryPoints,
  importFindingLabel,
  installedSizeFindingLabel,
  serveStartFindingLabel,
} from '../../bench/scenarios/startup.js';

export const adapterFigures = frameworks.flatMap((fw) => identityKinds.map((k) => adapterFindingLabel(fw, k)));
export const goFigures = [...Object.values(anchorFindingLabels), cacheMissFindingLabel];
export const importFigures = [
  ...entryPoints.map(importFindingLabel),
  serveStartFindingLabel,
  installedSizeFindingLabel,
];
export const allFigures = [
  ...adapterFigures,
  ...goFigures,
  perConnectionFindingLabel,
  memoryFindingLabel,
  ...importFigures,
];

/** `FIGURE <label>: <result> [<verdict>]` lines of the bench's stdout, by label prefix. */
export function figureLine(stdout: string, label: string): string | undefined {
  return stdout.split('\n').find((l) => l.startsWith(`FIGURE ${label}`));
}
