import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport, type EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CreateMessageResultSchema, ElicitResultSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

/**
 * The conformance suite's reference "everything" server, as the upstream behind the gateway: the tools, resources and
 * prompts of `examples/servers/typescript/everything-server.ts` of @modelcontextprotocol/conformance v0.1.16 (same
 * names, texts and payloads the scenarios check), condensed, with the fix of conformance PR #414 ("send
 * sampling/elicitation requests via extra.sendRequest"): requests made for a call travel on that call's stream, which
 * is what lets a gateway attribute them to the calling user. Stateful sessions with an event store (SEP-1699 polling).
 */
const IMAGE = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const AUDIO = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=';
const SCHEMA_2020_12 = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object' as const,
  $defs: { address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
  properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
  additionalProperties: false,
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function eventStore(): EventStore {
  const events = new Map<string, { streamId: string; message: JSONRPCMessage }>();
  let seq = 0;
  return {
    async storeEvent(streamId, message) {
      const id = `${streamId}::${String(++seq).padStart(8, '0')}`;
      events.set(id, { streamId, message });
      return id;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const streamId = lastEventId.split('::')[0]!;
      for (const [id, e] of [...events].sort(([a], [b]) => a.localeCompare(b))) {
        if (e.streamId === streamId && id > lastEventId && Object.keys(e.message).length > 0) await send(id, e.message);
      }
      return streamId;
    },
  };
}

const elicitDefaultsSchema = {
  type: 'object' as const,
  properties: {
    name: { type: 'string' as const, description: 'User name', default: 'John Doe' },
    age: { type: 'integer' as const, description: 'User age', default: 30 },
    score: { type: 'number' as const, description: 'User score', default: 95.5 },
    status: { type: 'string' as const, description: 'User status', enum: ['active', 'inactive', 'pending'], default: 'active' },
    verified: { type: 'boolean' as const, description: 'Verification status', default: true },
  },
  required: [],
};

const elicitEnumsSchema = {
  type: 'object' as const,
  properties: {
    untitledSingle: { type: 'string' as const, description: 'Select one option', enum: ['option1', 'option2', 'option3'] },
    titledSingle: {
      type: 'string' as const,
      description: 'Select one option with titles',
      oneOf: [
        { const: 'value1', title: 'First Option' },
        { const: 'value2', title: 'Second Option' },
        { const: 'value3', title: 'Third Option' },
      ],
    },
    legacyEnum: { type: 'string' as const, description: 'Select one option (legacy)', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
    untitledMulti: { type: 'array' as const, description: 'Select multiple options', minItems: 1, maxItems: 3, items: { type: 'string' as const, enum: ['option1', 'option2', 'option3'] } },
    titledMulti: {
      type: 'array' as const,
      description: 'Select multiple options with titles',
      minItems: 1,
      maxItems: 3,
      items: {
        anyOf: [
          { const: 'value1', title: 'First Choice' },
          { const: 'value2', title: 'Second Choice' },
          { const: 'value3', title: 'Third Choice' },
        ],
      },
    },
  },
  required: [],
};

function build(transports: Map<string, StreamableHTTPServerTransport>): McpServer {
  const server = new McpServer(
    { name: 'mcp-conformance-test-server', version: '1.0.0' },
    { capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true }, prompts: { listChanged: true }, logging: {}, completions: {} } },
  );
  const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });
  server.registerTool('test_simple_text', { description: 'Tests simple text content response' }, async () => text('This is a simple text response for testing.'));
  server.registerTool('test_image_content', { description: 'Tests image content response' }, async () => ({ content: [{ type: 'image', data: IMAGE, mimeType: 'image/png' }] }));
  server.registerTool('test_audio_content', { description: 'Tests audio content response' }, async () => ({ content: [{ type: 'audio', data: AUDIO, mimeType: 'audio/wav' }] }));
  server.registerTool('test_embedded_resource', { description: 'Tests embedded resource content response' }, async () => ({
    content: [{ type: 'resource', resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }],
  }));
  server.registerTool('test_multiple_content_types', { description: 'Tests response with multiple content types (text, image, resource)' }, async () => ({
    content: [
      { type: 'text', text: 'Multiple content types test:' },
      { type: 'image', data: IMAGE, mimeType: 'image/png' },
      { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: JSON.stringify({ test: 'data', value: 123 }) } },
    ],
  }));
  server.registerTool('test_tool_with_logging', { description: 'Tests tool that emits log messages during execution', inputSchema: {} }, async (_a, { sendNotification }) => {
    for (const [i, data] of ['Tool execution started', 'Tool processing data', 'Tool execution completed'].entries()) {
      if (i > 0) await sleep(50);
      await sendNotification({ method: 'notifications/message', params: { level: 'info', data } });
    }
    return text('Tool with logging executed successfully');
  });
  server.registerTool('test_tool_with_progress', { description: 'Tests tool that reports progress notifications', inputSchema: {} }, async (_a, { sendNotification, _meta }) => {
    const progressToken = _meta?.progressToken ?? 0;
    for (const [i, progress] of [0, 50, 100].entries()) {
      if (i > 0) await sleep(50);
      await sendNotification({ method: 'notifications/progress', params: { progressToken, progress, total: 100, message: `Completed step ${progress} of 100` } });
    }
    return text(String(progressToken));
  });
  server.registerTool('test_error_handling', { description: 'Tests error response handling' }, async () => {
    throw new Error('This tool intentionally returns an error for testing');
  });
  server.registerTool('test_reconnection', { description: 'Tests SSE stream disconnection and client reconnection (SEP-1699)', inputSchema: {} }, async (_a, { sessionId, requestId }) => {
    if (sessionId && requestId) transports.get(sessionId)?.closeSSEStream(requestId);
    await sleep(100);
    return text('Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.');
  });
  server.registerTool('test_sampling', { description: 'Tests server-initiated sampling (LLM completion request)', inputSchema: { prompt: z.string().describe('The prompt to send to the LLM') } }, async ({ prompt }, extra) => {
    try {
      const r = await extra.sendRequest({ method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 100 } }, CreateMessageResultSchema);
      return text(`LLM response: ${r.content.type === 'text' ? r.content.text : 'No response'}`);
    } catch (e) {
      return text(`Sampling not supported or error: ${(e as Error).message}`);
    }
  });
  const elicit = (schema: object, message: string, done: (r: { action: string; content?: unknown }) => string) => async (_a: unknown, extra: { sendRequest: (r: never, s: typeof ElicitResultSchema) => Promise<{ action: string; content?: unknown }> }) => {
    try {
      return text(done(await extra.sendRequest({ method: 'elicitation/create', params: { message, requestedSchema: schema } } as never, ElicitResultSchema)));
    } catch (e) {
      return text(`Elicitation not supported or error: ${(e as Error).message}`);
    }
  };
  server.registerTool('test_elicitation', { description: 'Tests server-initiated elicitation (user input request)', inputSchema: { message: z.string().describe('The message to show the user') } }, async ({ message }, extra) =>
    elicit({ type: 'object', properties: { response: { type: 'string', description: "User's response" } }, required: ['response'] }, message, (r) => `User response: action=${r.action}, content=${JSON.stringify(r.content ?? {})}`)(undefined, extra as never),
  );
  server.registerTool('test_elicitation_sep1034_defaults', { description: 'Tests elicitation with default values per SEP-1034', inputSchema: {} }, async (_a, extra) =>
    elicit(elicitDefaultsSchema, 'Please review and update the form fields with defaults', (r) => `Elicitation completed: action=${r.action}, content=${JSON.stringify(r.content ?? {})}`)(undefined, extra as never),
  );
  server.registerTool('test_elicitation_sep1330_enums', { description: 'Tests elicitation with enum schema improvements per SEP-1330', inputSchema: {} }, async (_a, extra) =>
    elicit(elicitEnumsSchema, 'Please select options from the enum fields', (r) => `Elicitation completed: action=${r.action}, content=${JSON.stringify(r.content ?? {})}`)(undefined, extra as never),
  );
  server.registerTool('json_schema_2020_12_tool', { description: 'Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)', inputSchema: { name: z.string().optional() } }, async (args) =>
    text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`),
  );
  // The reference lists this tool with a raw 2020-12 schema (its ListTools override); the gateway stores what is listed.
  const listed = server.server as unknown as { _requestHandlers: Map<string, (r: unknown, x: unknown) => Promise<{ tools: { name: string; inputSchema: unknown }[] }>> };
  const list = listed._requestHandlers.get('tools/list')!;
  listed._requestHandlers.set('tools/list', async (r, x) => {
    const res = await list(r, x);
    return { ...res, tools: res.tools.map((tl) => (tl.name === 'json_schema_2020_12_tool' ? { ...tl, inputSchema: SCHEMA_2020_12 } : tl)) };
  });

  const read = (uri: string, mimeType: string, body: { text: string } | { blob: string }) => async () => ({ contents: [{ uri, mimeType, ...body }] });
  server.registerResource('static-text', 'test://static-text', { title: 'Static Text Resource', description: 'A static text resource for testing', mimeType: 'text/plain' },
    read('test://static-text', 'text/plain', { text: 'This is the content of the static text resource.' }));
  server.registerResource('static-binary', 'test://static-binary', { title: 'Static Binary Resource', description: 'A static binary resource (image) for testing', mimeType: 'image/png' },
    read('test://static-binary', 'image/png', { blob: IMAGE }));
  server.registerResource('template', new ResourceTemplate('test://template/{id}/data', { list: undefined }), { title: 'Resource Template', description: 'A resource template with parameter substitution', mimeType: 'application/json' },
    async (uri, { id }) => ({ contents: [{ uri: uri.toString(), mimeType: 'application/json', text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${String(id)}` }) }] }));
  server.registerResource('watched-resource', 'test://watched-resource', { title: 'Watched Resource', description: 'A resource that auto-updates every 3 seconds', mimeType: 'text/plain' },
    read('test://watched-resource', 'text/plain', { text: 'Watched resource content' }));
  const raw = server.server;
  raw.setRequestHandler(z.object({ method: z.literal('resources/subscribe') }).passthrough() as never, async () => ({}));
  raw.setRequestHandler(z.object({ method: z.literal('resources/unsubscribe') }).passthrough() as never, async () => ({}));

  server.registerPrompt('test_simple_prompt', { title: 'Simple Test Prompt', description: 'A simple prompt without arguments' }, async () => ({
    messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }],
  }));
  server.registerPrompt('test_prompt_with_arguments', { title: 'Prompt With Arguments', description: 'A prompt with required arguments', argsSchema: { arg1: z.string().describe('First test argument'), arg2: z.string().describe('Second test argument') } },
    async ({ arg1, arg2 }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` } }] }));
  server.registerPrompt('test_prompt_with_embedded_resource', { title: 'Prompt With Embedded Resource', description: 'A prompt that includes an embedded resource', argsSchema: { resourceUri: z.string().describe('URI of the resource to embed') } },
    async ({ resourceUri }) => ({
      messages: [
        { role: 'user', content: { type: 'resource', resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } } },
        { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
      ],
    }));
  server.registerPrompt('test_prompt_with_image', { title: 'Prompt With Image', description: 'A prompt that includes image content' }, async () => ({
    messages: [
      { role: 'user', content: { type: 'image', data: IMAGE, mimeType: 'image/png' } },
      { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
    ],
  }));
  raw.setRequestHandler(z.object({ method: z.literal('logging/setLevel') }).passthrough() as never, async () => ({}));
  raw.setRequestHandler(z.object({ method: z.literal('completion/complete') }).passthrough() as never, async () => ({ completion: { values: [], total: 0, hasMore: false } }));
  return server;
}

export interface ReferenceServer {
  url: string;
  close(): Promise<void>;
}

export async function startReferenceServer(): Promise<ReferenceServer> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const httpServer = http.createServer(async (req, res) => {
    const sid = req.headers['mcp-session-id'];
    let transport = typeof sid === 'string' ? transports.get(sid) : undefined;
    if (typeof sid === 'string' && !transport) {
      res.writeHead(404).end();
      return;
    }
    if (!transport) {
      const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore: eventStore(),
        retryInterval: 500,
        onsessioninitialized: (id) => void transports.set(id, created),
      });
      await build(transports).connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/mcp`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const tr of transports.values()) void tr.close();
        transports.clear();
        httpServer.closeAllConnections();
        httpServer.close(() => resolve());
      }),
  };
}
