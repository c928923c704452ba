import type { ToolProvider } from '../connector-tool.js';
import { calendarTools } from './calendar-tools.js';
import { directoryTools } from './directory-tools.js';
import { driveTools } from './drive-tools.js';
import { gmailTools } from './gmail-tools.js';

/** Every Google Workspace tool (names and scopes: google-scopes.ts). */
export const googleToolProvider: ToolProvider = { kind: 'google', tools: [...gmailTools, ...calendarTools, ...driveTools, ...directoryTools] };
