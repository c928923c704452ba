import type { ToolProvider } from '../connector-tool.js';
import { calendarTools } from './calendar-tools.js';
import { filesTools } from './files-tools.js';
import { mailTools } from './mail-tools.js';
import { peopleTools } from './people-tools.js';
import { teamsTools } from './teams-tools.js';

/** Every Microsoft 365 tool (names and Graph permissions: microsoft-scopes.ts). */
export const microsoftToolProvider: ToolProvider = { kind: 'microsoft', tools: [...mailTools, ...calendarTools, ...filesTools, ...peopleTools, ...teamsTools] };
