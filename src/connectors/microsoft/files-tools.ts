import { toolResult, type ConnectorTool } from '../connector-tool.js';
import { MicrosoftToolFailure } from './microsoft-failure.js';
import { microsoftTool } from './microsoft-tool.js';
import { gid, int, nullableStr, object, readOnly, seg, str } from './graph-schema.js';

interface DriveItem {
  id?: string;
  name?: string;
  size?: number;
  webUrl?: string;
  lastModifiedDateTime?: string;
  file?: { mimeType?: string };
  folder?: unknown;
  parentReference?: { driveId?: string };
  remoteItem?: { id?: string; parentReference?: { driveId?: string } };
}

/** Largest file whose text a tool returns (the model's context is the limit, not Graph's). */
const MAX_FILE_BYTES = 2 * 1024 * 1024;
const TEXT_TYPES = /^(text\/|application\/(json|xml|csv|x-yaml|yaml|javascript|x-sh)\b)/;
const TEXT_EXTENSIONS = /\.(txt|md|csv|tsv|json|xml|ya?ml|log|html?|js|ts|py|sql|ini|cfg)$/i;

const file = object(
  { id: str(''), driveId: nullableStr, name: str(''), size: { type: 'integer' }, mimeType: nullableStr, webUrl: nullableStr, lastModified: nullableStr, isFolder: { type: 'boolean' } },
  ['id', 'driveId', 'name', 'webUrl'],
);
const toFile = (x: DriveItem) => ({
  id: x.remoteItem?.id ?? x.id ?? '',
  driveId: x.remoteItem?.parentReference?.driveId ?? x.parentReference?.driveId ?? null,
  name: x.name ?? '',
  size: x.size ?? 0,
  mimeType: x.file?.mimeType ?? null,
  webUrl: x.webUrl ?? null,
  lastModified: x.lastModifiedDateTime ?? null,
  isFolder: x.folder !== undefined,
});
const line = (f: ReturnType<typeof toFile>) => `- [${f.driveId ?? ''}/${f.id}] ${f.name} · ${f.lastModified ?? ''} · ${f.webUrl ?? ''}`;

const filesSearch: ConnectorTool = {
  name: 'microsoft__files_search',
  description: 'Search your OneDrive and the SharePoint sites you can open (Microsoft Search, KQL: words, filetype:docx, author:…). Returns name, location and link per file.',
  inputSchema: object({ query: str('Search text or KQL', { minLength: 1, maxLength: 1000 }), maxResults: int('Files to return', 1, 50, 10), from: int('Offset of the first result (paging)', 0, 1000, 0) }, ['query']),
  outputSchema: object({ files: { type: 'array', items: file }, moreAvailable: { type: 'boolean' } }, ['files', 'moreAvailable']),
  annotations: readOnly('Search OneDrive and SharePoint'),
  run: microsoftTool('microsoft__files_search', async (g, a) => {
    type Hits = { value?: { hitsContainers?: { hits?: { resource?: DriveItem }[]; moreResultsAvailable?: boolean }[] }[] };
    const res = await g.request<Hits>('POST /search/query', {
      method: 'POST',
      path: '/search/query',
      idempotent: true,
      body: { requests: [{ entityTypes: ['driveItem'], query: { queryString: String(a.query) }, from: Number(a.from ?? 0), size: Number(a.maxResults ?? 10) }] },
    });
    const container = res.value?.[0]?.hitsContainers?.[0];
    const files = (container?.hits ?? []).map((h) => toFile(h.resource ?? {}));
    return toolResult(files.map(line).join('\n') || 'No files match.', { files, moreAvailable: container?.moreResultsAvailable ?? false });
  }),
};

const filesRead: ConnectorTool = {
  name: 'microsoft__files_read',
  description: `Read a OneDrive/SharePoint file's text (text, Markdown, CSV, JSON, XML…; up to ${MAX_FILE_BYTES / 1024 / 1024} MB, bounded output). Word, Excel and PowerPoint files are not converted to text by Graph: their link is returned instead.`,
  inputSchema: object({ driveId: gid('Drive id (from microsoft__files_search)'), itemId: gid('Item id'), maxChars: int('Longest text returned, in characters', 100, 200_000, 50_000) }, ['driveId', 'itemId']),
  outputSchema: object({ file, text: str(''), truncated: { type: 'boolean' } }, ['file', 'text', 'truncated']),
  annotations: readOnly('Read a OneDrive/SharePoint file'),
  run: microsoftTool('microsoft__files_read', async (g, a) => {
    const path = `/drives/${seg(a.driveId)}/items/${seg(a.itemId)}`;
    const meta = toFile(await g.request<DriveItem>('GET /drives/{d}/items/{i}', { path, query: { $select: 'id,name,size,file,folder,webUrl,lastModifiedDateTime,parentReference' } }));
    if (meta.isFolder) throw new MicrosoftToolFailure('bad_request', `${meta.name} is a folder.`);
    if (!(TEXT_TYPES.test(meta.mimeType ?? '') || TEXT_EXTENSIONS.test(meta.name))) {
      throw new MicrosoftToolFailure('unsupported_type', `${meta.name} (${meta.mimeType ?? 'unknown type'}) is not a text file; open it at ${meta.webUrl ?? 'its OneDrive/SharePoint link'}.`);
    }
    if (meta.size > MAX_FILE_BYTES) throw new MicrosoftToolFailure('too_large', `${meta.name} is ${meta.size} bytes; this tool reads files up to ${MAX_FILE_BYTES} bytes.`);
    // /content answers 302 to a pre-authenticated download URL; fetch drops our Authorization on the cross-origin hop.
    const res = await g.request<Response>('GET /drives/{d}/items/{i}/content', { path: `${path}/content`, raw: true });
    const body = Buffer.from(await res.arrayBuffer()).subarray(0, MAX_FILE_BYTES).toString('utf8');
    const limit = Number(a.maxChars ?? 50_000);
    return toolResult(body.slice(0, limit) + (body.length > limit ? '\n[…truncated]' : ''), { file: meta, text: body.slice(0, limit), truncated: body.length > limit });
  }),
};

const filesRecent: ConnectorTool = {
  name: 'microsoft__files_recent',
  description: 'List the files you used most recently in OneDrive and SharePoint.',
  inputSchema: object({ maxResults: int('Files to return', 1, 50, 15) }),
  outputSchema: object({ files: { type: 'array', items: file } }, ['files']),
  annotations: readOnly('Recent OneDrive/SharePoint files'),
  run: microsoftTool('microsoft__files_recent', async (g, a) => {
    const max = Number(a.maxResults ?? 15);
    const { items } = await g.pages<DriveItem>('GET /me/drive/recent', { path: '/me/drive/recent', query: { $top: max } }, max, 2);
    const files = items.map(toFile);
    return toolResult(files.map(line).join('\n') || 'No recent files.', { files });
  }),
};

export const filesTools: ConnectorTool[] = [filesSearch, filesRead, filesRecent];
