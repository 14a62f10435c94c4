#!/usr/bin/env node
// The `toolmesh` command. The CLI is TypeScript run as is: Node 24 strips types natively,
// so this shim only checks the Node version and imports the source.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `toolmesh needs Node.js 24 or newer (this is ${process.version}); in the repository run it with npx toolmesh.\n`,
  );
  process.exit(1);
}
try {
  await import('../src/main.ts');
} catch (error) {
  // Node refuses to strip types in files under node_modules: a copied (not linked) install.
  if (error?.code === 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING') {
    process.stderr.write(
      'toolmesh runs from a workspace checkout (npm workspaces link it); it cannot run from a copy under node_modules.\n',
    );
    process.exit(1);
  }
  throw error;
}
