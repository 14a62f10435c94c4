// Lint rule biome cannot express: no deep imports into another workspace package
// (import "@toolmesh/x", never "@toolmesh/x/src/..." or "../../packages/x/...").
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const offending: string[] = [];
const deep = /from\s+['"](@toolmesh\/[^'"/]+\/[^'"]+|(?:\.\.\/)+(?:packages|services)\/[^'"]+)['"]/g;

function walk(dir: string) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'gen' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (path.endsWith('.ts')) {
      for (const match of readFileSync(path, 'utf8').matchAll(deep)) {
        offending.push(`${relative(root, path)}: ${match[1]}`);
      }
    }
  }
}
for (const top of ['packages', 'services']) walk(join(root, top));
if (offending.length) {
  console.error(`deep imports into another package:\n${offending.join('\n')}`);
  process.exit(1);
}
