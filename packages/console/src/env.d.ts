// esbuild bundles imported CSS into dist/assets/app-<hash>.css; the import has no value.
declare module '*.css';
