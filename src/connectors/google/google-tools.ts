import type { ToolProvider } from '../connector-tool.js';
import { gmailTools } from './gmail-tools.js';

/** Every Google Workspace tool (names and scopes: google-scopes.ts). */
export const googleToolProvider: ToolProvider = { kind: 'google', tools: [...gmailTools] };
