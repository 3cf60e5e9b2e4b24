/** The dependencies left as imports of node_modules (every one but @parley/sdk), with their subpaths. */
export function externals(): string[];
/** Bundles the server into `outdir` (a direct child of packages/server); answers the path of its parley.mjs. */
export function bundleServer(outdir?: string): Promise<string>;
