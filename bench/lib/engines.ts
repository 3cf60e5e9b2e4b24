import { postgresEngine } from './postgres-engine.js';
import { sqliteEngine } from './sqlite-engine.js';
import type { EngineDef } from './types.js';

/** Engine registry: PostgreSQL joins here with its own dataset and peers (node:http + pg, Express + pg). */
export const ENGINES: EngineDef[] = [sqliteEngine, postgresEngine];
