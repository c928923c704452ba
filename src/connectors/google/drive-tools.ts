import type { drive_v3 } from 'googleapis';
import { toolResult, type ConnectorTool } from '../connector-tool.js';
import { GoogleToolFailure, googleTool, type GoogleSession } from './google-call.js';
import { GOOGLE_TOOL_SCOPES } from './google-scopes.js';
import { id, int, nullableStr, object, pageToken, readOnly, str } from './schema-parts.js';

const FILE_FIELDS = 'id,name,mimeType,size,modifiedTime,createdTime,webViewLink,shared,owners(emailAddress,displayName)';
const file = object(
  { id: str(''), name: str(''), mimeType: str(''), size: { type: ['integer', 'null'] }, modifiedTime: nullableStr, webViewLink: nullableStr, owners: { type: 'array', items: { type: 'string' } } },
  ['id', 'name', 'mimeType'],
);
const toFile = (f: drive_v3.Schema$File) => ({
  id: f.id ?? '',
  name: f.name ?? '',
  mimeType: f.mimeType ?? '',
  size: f.size ? Number(f.size) : null,
  modifiedTime: f.modifiedTime ?? null,
  webViewLink: f.webViewLink ?? null,
  owners: (f.owners ?? []).map((o) => o.emailAddress ?? '').filter(Boolean),
});
const line = (f: ReturnType<typeof toFile>) => `- [${f.id}] ${f.name} (${f.mimeType}${f.modifiedTime ? `, modified ${f.modifiedTime}` : ''})`;

/** Drive query kinds the search tool offers, as Drive mimeType filters. */
const KINDS: Record<string, string> = {
  document: 'application/vnd.google-apps.document',
  spreadsheet: 'application/vnd.google-apps.spreadsheet',
  presentation: 'application/vnd.google-apps.presentation',
  folder: 'application/vnd.google-apps.folder',
  pdf: 'application/pdf',
};

/** Google files exported as text: Docs → text/plain, Sheets → text/csv (first sheet), Slides → text/plain. */
const EXPORTS: Record<string, string> = {
  'application/vnd.google-apps.document': 'text/plain',
  'application/vnd.google-apps.spreadsheet': 'text/csv',
  'application/vnd.google-apps.presentation': 'text/plain',
};
const TEXTUAL = /^(text\/|application\/(json|xml|csv|x-yaml|yaml|javascript|x-sh)\b)/;
/** Binary downloads above this are refused rather than pulled through the gateway. */
const MAX_DOWNLOAD_BYTES = 5 * 1024 * 1024;

// Drive query language: string literals in single quotes; backslash and quote are escaped with a backslash.
const literal = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

const drive = async (g: GoogleSession) => (await g.googleapis()).drive({ version: 'v3', ...(await g.options()) });

export const driveTools: ConnectorTool[] = [
  {
    name: 'google__drive_search',
    description: 'Search your Google Drive (files you own or that are shared with you) by words in the name or content, optionally by kind.',
    inputSchema: object({ query: str('Words to find in file names or contents', { minLength: 1, maxLength: 500 }), kind: { type: 'string', enum: Object.keys(KINDS), description: 'Only this kind of file' }, pageSize: int('Files per page', 1, 100, 20), pageToken }, ['query']),
    outputSchema: object({ files: { type: 'array', items: file }, nextPageToken: nullableStr }, ['files', 'nextPageToken']),
    annotations: readOnly('Search Drive'),
    run: googleTool('google__drive_search', GOOGLE_TOOL_SCOPES.google__drive_search, async (g, a) => {
      const q = [`fullText contains ${literal(String(a.query))}`, 'trashed = false', ...(a.kind ? [`mimeType = ${literal(KINDS[String(a.kind)]!)}`] : [])].join(' and ');
      const d = await drive(g);
      const res = await g.api('drive.files.list', (o) =>
        d.files.list({ q, pageSize: Number(a.pageSize ?? 20), fields: `nextPageToken,files(${FILE_FIELDS})`, supportsAllDrives: true, includeItemsFromAllDrives: true, ...(a.pageToken ? { pageToken: String(a.pageToken) } : {}) }, o),
      );
      const files = (res.files ?? []).map(toFile);
      return toolResult(files.map(line).join('\n') || 'No files match.', { files, nextPageToken: res.nextPageToken ?? null });
    }),
  },
  {
    name: 'google__drive_read_file',
    description: "Read a Drive file's text: Google Docs and Slides as plain text, Sheets as CSV, text files as they are (bounded; binary files are refused).",
    inputSchema: object({ fileId: id('File id (from google__drive_search)'), maxChars: int('Longest text returned, in characters', 100, 200_000, 50_000) }, ['fileId']),
    outputSchema: object({ file, format: str(''), text: str(''), truncated: { type: 'boolean' } }, ['file', 'format', 'text', 'truncated']),
    annotations: readOnly('Read a Drive file'),
    run: googleTool('google__drive_read_file', GOOGLE_TOOL_SCOPES.google__drive_read_file, async (g, a) => {
      const d = await drive(g);
      const fileId = String(a.fileId);
      const meta = toFile(await g.api('drive.files.get', (o) => d.files.get({ fileId, fields: FILE_FIELDS, supportsAllDrives: true }, o)));
      const exportAs = EXPORTS[meta.mimeType];
      let text: string;
      if (exportAs) {
        text = String(await g.api('drive.files.export', (o) => d.files.export({ fileId, mimeType: exportAs }, { ...o, responseType: 'text' }) as Promise<{ data: unknown }>));
      } else if (TEXTUAL.test(meta.mimeType)) {
        if ((meta.size ?? 0) > MAX_DOWNLOAD_BYTES) throw new GoogleToolFailure('too_large', `This file is too large to read here (${meta.size} bytes; limit ${MAX_DOWNLOAD_BYTES}).`);
        text = String(await g.api('drive.files.get', (o) => d.files.get({ fileId, alt: 'media', supportsAllDrives: true }, { ...o, responseType: 'text' }) as Promise<{ data: unknown }>));
      } else {
        throw new GoogleToolFailure('unsupported', `${meta.name} is a ${meta.mimeType} file: only Google Docs, Sheets, Slides and text files can be read as text.`);
      }
      const max = Number(a.maxChars ?? 50_000);
      const out = { file: meta, format: exportAs ?? meta.mimeType, text: text.slice(0, max), truncated: text.length > max };
      return toolResult(`${meta.name}\n\n${out.text}${out.truncated ? '\n[…truncated]' : ''}`, out);
    }),
  },
  {
    name: 'google__drive_get_metadata',
    description: "A Drive file's metadata and who it is shared with (permissions: user, group, domain or anyone, and their role).",
    inputSchema: object({ fileId: id('File id') }, ['fileId']),
    outputSchema: object(
      { file, shared: { type: 'boolean' }, permissions: { type: 'array', items: object({ type: str(''), role: str(''), emailAddress: nullableStr, domain: nullableStr, displayName: nullableStr }, ['type', 'role']) } },
      ['file', 'shared', 'permissions'],
    ),
    annotations: readOnly('Drive file metadata and sharing'),
    run: googleTool('google__drive_get_metadata', GOOGLE_TOOL_SCOPES.google__drive_get_metadata, async (g, a) => {
      const d = await drive(g);
      const fileId = String(a.fileId);
      const raw = await g.api('drive.files.get', (o) => d.files.get({ fileId, fields: FILE_FIELDS, supportsAllDrives: true }, o));
      const perms = await g.api('drive.permissions.list', (o) => d.permissions.list({ fileId, fields: 'permissions(type,role,emailAddress,domain,displayName)', supportsAllDrives: true }, o));
      const permissions = (perms.permissions ?? []).map((p) => ({ type: p.type ?? '', role: p.role ?? '', emailAddress: p.emailAddress ?? null, domain: p.domain ?? null, displayName: p.displayName ?? null }));
      const meta = toFile(raw);
      const text = `${line(meta)}\nShared with:\n${permissions.map((p) => `- ${p.role}: ${p.emailAddress ?? p.domain ?? p.type}`).join('\n') || '- nobody'}`;
      return toolResult(text, { file: meta, shared: raw.shared === true, permissions });
    }),
  },
  {
    name: 'google__drive_recent_files',
    description: 'Your most recently modified Drive files.',
    inputSchema: object({ pageSize: int('Files to list', 1, 100, 20), pageToken }),
    outputSchema: object({ files: { type: 'array', items: file }, nextPageToken: nullableStr }, ['files', 'nextPageToken']),
    annotations: readOnly('Recent Drive files'),
    run: googleTool('google__drive_recent_files', GOOGLE_TOOL_SCOPES.google__drive_recent_files, async (g, a) => {
      const d = await drive(g);
      const res = await g.api('drive.files.list', (o) =>
        d.files.list({ q: 'trashed = false', orderBy: 'modifiedTime desc', pageSize: Number(a.pageSize ?? 20), fields: `nextPageToken,files(${FILE_FIELDS})`, ...(a.pageToken ? { pageToken: String(a.pageToken) } : {}) }, o),
      );
      const files = (res.files ?? []).map(toFile);
      return toolResult(files.map(line).join('\n') || 'No files.', { files, nextPageToken: res.nextPageToken ?? null });
    }),
  },
];
