// Prints each UI extension bundle's size and fails over Shopify's limits: 64 KB compressed for an extension
// of blocks, 128 KB for one with a full-page target. Run after `npm run build`.
//   node scripts/extensions/sizes.mjs [extensions-directory]
import {existsSync, readdirSync, readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {gzipSync} from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const extensionsDir = process.argv[2] || join(root, 'extensions');
const KB = 1024;
const FULL_PAGE = /target\s*=\s*"customer-account\.(order\.)?page\.render"/;
let failed = false;
let seen = 0;
for (const name of readdirSync(extensionsDir).sort()) {
  const dir = join(extensionsDir, name);
  const tomlPath = join(dir, 'shopify.extension.toml');
  if (!existsSync(tomlPath)) continue;
  const toml = readFileSync(tomlPath, 'utf8');
  if (!/type\s*=\s*"ui_extension"/.test(toml)) continue;
  const bundle = join(dir, 'dist', `${name}.js`);
  if (!existsSync(bundle)) {
    console.error(`${name}: no bundle at ${bundle}; run \`npm run build\` first`);
    failed = true;
    continue;
  }
  const raw = readFileSync(bundle);
  const compressed = gzipSync(raw).length;
  const limit = (FULL_PAGE.test(toml) ? 128 : 64) * KB;
  const over = compressed > limit;
  failed ||= over;
  seen += 1;
  console.log(`${name.padEnd(26)} ${(raw.length / KB).toFixed(1).padStart(6)} KB raw  ${(compressed / KB).toFixed(1).padStart(6)} KB compressed  (limit ${limit / KB} KB)${over ? '  OVER THE LIMIT' : ''}`);
}
if (seen === 0) {
  console.error('no UI extension bundles found');
  failed = true;
}
process.exit(failed ? 1 : 0);
