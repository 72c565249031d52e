// Theme Check with Shopify's theme-app-extension config on extensions/regulars-theme: every offense is printed,
// and any at all (errors, warnings, suggestions) fails, so the extension stays clean, not merely passing.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { themeCheckRun } from '@shopify/theme-check-node';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const extension = path.join(root, 'extensions', 'regulars-theme');
const severities = ['error', 'warning', 'info'];

const { offenses, theme } = await themeCheckRun(extension, 'theme-check:theme-app-extension', () => {});
for (const o of offenses) {
  const where = path.relative(root, fileURLToPath(o.uri));
  const line = o.start ? `:${o.start.line + 1}:${o.start.character + 1}` : '';
  console.log(`${where}${line}  ${severities[o.severity] ?? o.severity}  ${o.check}: ${o.message}`);
}
console.log(`theme-check (theme-app-extension): ${theme.length} files, ${offenses.length} offenses`);
process.exit(offenses.length ? 1 : 0);
