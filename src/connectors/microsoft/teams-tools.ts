import { toolResult, type ConnectorTool } from '../connector-tool.js';
import { MicrosoftToolFailure } from './microsoft-failure.js';
import { microsoftTool } from './microsoft-tool.js';
import { gid, int, nullableStr, object, readOnly, seg, str } from './graph-schema.js';

interface ChatMessage {
  id?: string;
  createdDateTime?: string;
  from?: { user?: { displayName?: string } | null; application?: { displayName?: string } | null } | null;
  body?: { contentType?: string; content?: string };
  messageType?: string;
}

const stripHtml = (s: string) => s.replace(/<[^>]*>/g, '').replace(/&nbsp;/g, ' ').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
const toMessage = (m: ChatMessage) => ({
  id: m.id ?? '',
  createdAt: m.createdDateTime ?? null,
  from: m.from?.user?.displayName ?? m.from?.application?.displayName ?? null,
  text: (m.body?.contentType === 'html' ? stripHtml(m.body?.content ?? '') : (m.body?.content ?? '')).slice(0, 4000),
});
const message = object({ id: str(''), createdAt: nullableStr, from: nullableStr, text: str('') }, ['id', 'createdAt', 'from', 'text']);

/** A chat, or a channel of a team: exactly one, checked in code (clients refuse top-level oneOf). */
const where = { chatId: gid('Chat id (from microsoft__teams_list_chats)'), teamId: gid('Team id (with channelId)'), channelId: gid('Channel id (with teamId)') };
function target(a: Record<string, unknown>): { path: string; label: string } {
  if (a.chatId && !a.teamId && !a.channelId) return { path: `/chats/${seg(a.chatId)}/messages`, label: '/chats/{id}/messages' };
  if (!a.chatId && a.teamId && a.channelId) return { path: `/teams/${seg(a.teamId)}/channels/${seg(a.channelId)}/messages`, label: '/teams/{t}/channels/{c}/messages' };
  throw new MicrosoftToolFailure('bad_request', 'Give either chatId, or teamId with channelId.');
}

const listChats: ConnectorTool = {
  name: 'microsoft__teams_list_chats',
  description: 'List your recent Teams chats (one-on-one, group and meeting chats) with their topics.',
  inputSchema: object({ maxResults: int('Chats to return', 1, 50, 20) }),
  outputSchema: object({ chats: { type: 'array', items: object({ id: str(''), topic: nullableStr, chatType: nullableStr, lastUpdated: nullableStr }, ['id', 'topic', 'chatType']) } }, ['chats']),
  annotations: readOnly('List Teams chats'),
  run: microsoftTool('microsoft__teams_list_chats', async (g, a) => {
    const max = Number(a.maxResults ?? 20);
    const { items } = await g.pages<{ id?: string; topic?: string | null; chatType?: string; lastUpdatedDateTime?: string }>('GET /me/chats', { path: '/me/chats', query: { $top: Math.min(max, 50) } }, max, 2);
    const chats = items.map((c) => ({ id: c.id ?? '', topic: c.topic ?? null, chatType: c.chatType ?? null, lastUpdated: c.lastUpdatedDateTime ?? null }));
    return toolResult(chats.map((c) => `- [${c.id}] ${c.topic ?? `(${c.chatType ?? 'chat'})`}`).join('\n') || 'No chats.', { chats });
  }),
};

const listChannels: ConnectorTool = {
  name: 'microsoft__teams_list_channels',
  description: 'List the teams you belong to and their channels.',
  inputSchema: object({ maxTeams: int('Teams to include', 1, 50, 20) }),
  outputSchema: object({ teams: { type: 'array', items: object({ id: str(''), name: nullableStr, channels: { type: 'array', items: object({ id: str(''), name: nullableStr }, ['id', 'name']) } }, ['id', 'name', 'channels']) } }, ['teams']),
  annotations: readOnly('List Teams channels'),
  run: microsoftTool('microsoft__teams_list_channels', async (g, a) => {
    const { items } = await g.pages<{ id?: string; displayName?: string }>('GET /me/joinedTeams', { path: '/me/joinedTeams' }, Number(a.maxTeams ?? 20), 2);
    const teams = [];
    for (const team of items) {
      const { items: channels } = await g.pages<{ id?: string; displayName?: string }>('GET /teams/{id}/channels', { path: `/teams/${seg(team.id)}/channels`, query: { $select: 'id,displayName' } }, 100, 1);
      teams.push({ id: team.id ?? '', name: team.displayName ?? null, channels: channels.map((c) => ({ id: c.id ?? '', name: c.displayName ?? null })) });
    }
    const text = teams.map((t) => `- ${t.name ?? t.id} [${t.id}]\n${t.channels.map((c) => `  - #${c.name ?? c.id} [${c.id}]`).join('\n')}`).join('\n');
    return toolResult(text || 'You are in no teams.', { teams });
  }),
};

const readMessages: ConnectorTool = {
  name: 'microsoft__teams_read_messages',
  description: 'Read the most recent messages of a Teams chat, or of a channel (teamId + channelId), as text.',
  inputSchema: object({ ...where, maxResults: int('Messages to return', 1, 50, 20) }),
  outputSchema: object({ messages: { type: 'array', items: message } }, ['messages']),
  annotations: readOnly('Read Teams messages'),
  run: microsoftTool('microsoft__teams_read_messages', async (g, a) => {
    const { path, label } = target(a);
    const max = Number(a.maxResults ?? 20);
    const { items } = await g.pages<ChatMessage>(`GET ${label}`, { path, query: { $top: Math.min(max, 50) } }, max, 1);
    const messages = items.filter((m) => (m.messageType ?? 'message') === 'message').map(toMessage);
    return toolResult(messages.map((m) => `- ${m.createdAt ?? ''} ${m.from ?? '?'}: ${m.text}`).join('\n') || 'No messages.', { messages });
  }),
};

const postMessage: ConnectorTool = {
  name: 'microsoft__teams_post_message',
  description: 'Post a plain-text message as you in a Teams chat, or in a channel (teamId + channelId). Others see it at once; approve this tool separately from reading.',
  inputSchema: object({ ...where, text: str('Message text (plain)', { minLength: 1, maxLength: 28_000 }) }, ['text']),
  outputSchema: message,
  annotations: { title: 'Post a Teams message', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  run: microsoftTool('microsoft__teams_post_message', async (g, a) => {
    const { path, label } = target(a);
    const m = toMessage(await g.request<ChatMessage>(`POST ${label}`, { method: 'POST', path, body: { body: { contentType: 'text', content: String(a.text) } } }));
    return toolResult(`Posted (message ${m.id}).`, m);
  }),
};

export const teamsTools: ConnectorTool[] = [listChats, listChannels, readMessages, postMessage];
