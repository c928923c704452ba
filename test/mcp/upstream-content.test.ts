import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { startReferenceServer, type ReferenceServer } from '../conformance/reference-server.js';
import { cli, connect, createUser, useFakeVerifier, type FakeVerifier } from './support.js';

type McpClient = Awaited<ReturnType<typeof connect>>['client'];

describe.each(testDbKinds)('MCP prompts and resources of upstreams: approval per upstream, namespacing, routing (%s)', (kind) => {
  let app: TestApp;
  let fake: FakeVerifier;
  let ref: ReferenceServer;
  beforeAll(async () => {
    app = await startTestApp(kind);
    fake = useFakeVerifier(app);
    ref = await startReferenceServer();
  }, 60_000);
  afterAll(async () => {
    await app?.services.upstreams.close();
    await ref?.close();
    await app?.close();
  });

  const promptNames = async (c: McpClient) => (await c.listPrompts()).prompts.map((p) => p.name).sort();
  const resourceUris = async (c: McpClient) => (await c.listResources()).resources.map((r) => r.uri).sort();

  it('nothing of an upstream whose content is not approved: not listed, not readable, not gettable, not completable', { timeout: 60_000 }, async () => {
    const t = await app.createTenant();
    await cli(app, 'upstream add', { tenant: t.slug, name: 'ref', url: ref.url });
    const { client } = await connect(app, t, fake.issue(t, await createUser(t, 'a@example.com')));
    expect(await promptNames(client)).toEqual([]);
    expect(await resourceUris(client)).toEqual([]);
    expect((await client.listResourceTemplates()).resourceTemplates).toEqual([]);
    await expect(client.readResource({ uri: 'ref+test://static-text' })).rejects.toThrow(/-32002.*Resource not found/);
    await expect(client.getPrompt({ name: 'ref__test_simple_prompt' })).rejects.toThrow(/Unknown prompt/);
    await expect(client.complete({ ref: { type: 'ref/prompt', name: 'ref__test_prompt_with_arguments' }, argument: { name: 'arg1', value: 'x' } })).rejects.toThrow(
      /Unknown prompt or resource template/,
    );
    await expect(client.subscribeResource({ uri: 'ref+test://watched-resource' })).rejects.toThrow(/Resource not found/);
    await client.close();
  });

  it('approved for a group: its members get namespaced prompts, resources and templates; others get nothing; revocation applies at once', { timeout: 60_000 }, async () => {
    const t = await app.createTenant();
    await cli(app, 'upstream add', { tenant: t.slug, name: 'ref', url: ref.url });
    const insider = await createUser(t, 'in@example.com', ['Engineering']);
    const outsider = await createUser(t, 'out@example.com', ['Sales']);
    expect(await cli(app, 'upstream approve-content', { tenant: t.slug, name: 'ref', group: ['engineering'] })).toMatchObject({ content: 'groups', groups: ['Engineering'], prefix: 'ref' });
    const inside = (await connect(app, t, fake.issue(t, insider))).client;
    const outside = (await connect(app, t, fake.issue(t, outsider))).client;

    expect(await promptNames(inside)).toEqual(['ref__test_prompt_with_arguments', 'ref__test_prompt_with_embedded_resource', 'ref__test_prompt_with_image', 'ref__test_simple_prompt']);
    expect(await resourceUris(inside)).toEqual(['ref+test://static-binary', 'ref+test://static-text', 'ref+test://watched-resource']);
    expect((await inside.listResourceTemplates()).resourceTemplates.map((r) => r.uriTemplate)).toEqual(['ref+test://template/{id}/data']);
    const read = await inside.readResource({ uri: 'ref+test://template/7/data' });
    expect(read.contents[0]).toMatchObject({ uri: 'ref+test://template/7/data', mimeType: 'application/json' });
    expect(JSON.parse((read.contents[0] as { text: string }).text)).toMatchObject({ id: '7' });
    const prompt = await inside.getPrompt({ name: 'ref__test_prompt_with_arguments', arguments: { arg1: 'a', arg2: 'b' } });
    expect(prompt.messages[0]?.content).toEqual({ type: 'text', text: "Prompt with arguments: arg1='a', arg2='b'" });
    // An embedded resource's URI is namespaced like listed ones, so the client can read it back through the gateway.
    const embedded = await inside.getPrompt({ name: 'ref__test_prompt_with_embedded_resource', arguments: { resourceUri: 'test://static-text' } });
    expect(embedded.messages[0]?.content).toMatchObject({ type: 'resource', resource: { uri: 'ref+test://static-text' } });
    expect(await inside.complete({ ref: { type: 'ref/prompt', name: 'ref__test_prompt_with_arguments' }, argument: { name: 'arg1', value: 'x' } })).toMatchObject({
      completion: { values: [] },
    });
    expect(await inside.subscribeResource({ uri: 'ref+test://watched-resource' })).toEqual({});

    expect(await promptNames(outside)).toEqual([]);
    await expect(outside.readResource({ uri: 'ref+test://static-text' })).rejects.toThrow(/Resource not found/);
    await expect(outside.getPrompt({ name: 'ref__test_simple_prompt' })).rejects.toThrow(/Unknown prompt/);

    await app.services.audit.flush();
    expect(await t.db.auditEvent.findFirst({ where: { action: 'mcp.resource.read', actorId: insider } })).toMatchObject({ outcome: 'success' });

    await cli(app, 'upstream revoke-content', { tenant: t.slug, name: 'ref' });
    expect(await promptNames(inside)).toEqual([]);
    await expect(inside.readResource({ uri: 'ref+test://static-text' })).rejects.toThrow(/Resource not found/);
    await inside.close();
    await outside.close();
  });

  it('URI tricks never reach an upstream the caller may not use', { timeout: 60_000 }, async () => {
    const t = await app.createTenant();
    await cli(app, 'upstream add', { tenant: t.slug, name: 'ref', url: ref.url });
    await cli(app, 'upstream add', { tenant: t.slug, name: 'secret', url: ref.url });
    await cli(app, 'upstream add', { tenant: t.slug, name: 'plain', url: ref.url, prefix: '' });
    const refUser = await createUser(t, 'ref@example.com', ['RefUsers']);
    const plainUser = await createUser(t, 'plain@example.com', ['PlainUsers']);
    await cli(app, 'upstream approve-content', { tenant: t.slug, name: 'ref', group: ['RefUsers'] });
    await cli(app, 'upstream approve-content', { tenant: t.slug, name: 'plain', group: ['PlainUsers'] });
    const a = (await connect(app, t, fake.issue(t, refUser))).client;
    const b = (await connect(app, t, fake.issue(t, plainUser))).client;
    expect((await a.readResource({ uri: 'ref+test://static-text' })).contents[0]).toMatchObject({ uri: 'ref+test://static-text' });
    for (const uri of [
      'secret+test://static-text', // an upstream nobody approved
      'SECRET+test://static-text',
      'Ref+test://static-text', // prefixes match exactly
      'ref+', // nothing after the prefix
      'test://static-text', // unprefixed: no unprefixed upstream approved for this user
      ' ref+test://static-text',
      'ref%2Btest://static-text',
    ]) {
      await expect(a.readResource({ uri }), uri).rejects.toThrow(/-32002|not found/i);
    }
    // Nested prefixes stay inside the first upstream's namespace: `ref` is asked for its own `secret+…` URI.
    await expect(a.readResource({ uri: 'ref+secret+test://static-text' })).rejects.toThrow();
    // A user of the unprefixed upstream only: prefixed URIs are that upstream's own URIs, never another upstream's.
    expect((await b.readResource({ uri: 'test://static-text' })).contents[0]).toMatchObject({ uri: 'test://static-text' });
    await expect(b.readResource({ uri: 'ref+test://static-text' })).rejects.toThrow(/not found/i);
    expect(await promptNames(b)).toEqual(['test_prompt_with_arguments', 'test_prompt_with_embedded_resource', 'test_prompt_with_image', 'test_simple_prompt']);
    await expect(b.getPrompt({ name: 'ref__test_simple_prompt' })).rejects.toThrow();
    await a.close();
    await b.close();
  });

  it('cross-tenant: content approved in one tenant is nothing in another with the same upstream name', { timeout: 60_000 }, async () => {
    const t1 = await app.createTenant();
    const t2 = await app.createTenant();
    for (const t of [t1, t2]) await cli(app, 'upstream add', { tenant: t.slug, name: 'ref', url: ref.url });
    await cli(app, 'upstream approve-content', { tenant: t1.slug, name: 'ref' });
    const other = (await connect(app, t2, fake.issue(t2, await createUser(t2, 'x@example.com')))).client;
    expect(await promptNames(other)).toEqual([]);
    await expect(other.readResource({ uri: 'ref+test://static-text' })).rejects.toThrow(/Resource not found/);
    await other.close();
  });

  it('prefixes: default the name, empty when no name collides, refused on any collision; one unprefixed content upstream', { timeout: 60_000 }, async () => {
    const t = await app.createTenant();
    const plain = await cli(app, 'upstream add', { tenant: t.slug, name: 'plain', url: ref.url, prefix: '' });
    expect(plain).toMatchObject({ prefix: '' });
    expect(plain.tools).toContain('test_simple_text');
    // The same tools again without a prefix collide: refused, nothing written.
    await expect(cli(app, 'upstream add', { tenant: t.slug, name: 'again', url: ref.url, prefix: '' })).rejects.toThrow(/collide with existing tools: json_schema_2020_12_tool, test_audio_content/);
    expect(await t.db.upstream.findFirst({ where: { name: 'again' } })).toBeNull();
    const custom = await cli(app, 'upstream add', { tenant: t.slug, name: 'custom', url: ref.url, prefix: 'cx' });
    expect(custom.tools).toContain('cx__test_simple_text');
    await expect(cli(app, 'upstream add', { tenant: t.slug, name: 'clash', url: ref.url, prefix: 'cx' })).rejects.toThrow(/prefix "cx"/);
    await expect(cli(app, 'upstream add', { tenant: t.slug, name: 'clash', url: ref.url, prefix: 'CX' })).rejects.toThrow(/prefix "CX"/);
    await expect(cli(app, 'upstream add', { tenant: t.slug, name: 'cx', url: ref.url })).rejects.toThrow(/prefix "cx"/);
    await expect(cli(app, 'upstream add', { tenant: t.slug, name: 'g', url: ref.url, prefix: 'google' })).rejects.toThrow(/reserved/);
    await expect(cli(app, 'upstream add', { tenant: t.slug, name: 'bad', url: ref.url, prefix: 'a__b' })).rejects.toThrow(/--prefix/);
    expect(await cli(app, 'upstream list', { tenant: t.slug })).toMatchObject({ upstreams: [{ name: 'custom', prefix: 'cx' }, { name: 'plain', prefix: '' }] });

    await cli(app, 'upstream approve-content', { tenant: t.slug, name: 'plain' });
    // A second unprefixed upstream (its tool names differ: a reference server would collide, so the check is on content).
    await t.db.upstream.create({ data: { id: 'ups_second_plain', tenantId: t.id, name: 'second', url: ref.url, prefix: '' } });
    await expect(cli(app, 'upstream approve-content', { tenant: t.slug, name: 'second' })).rejects.toThrow(/already exposes prompts and resources/);
  });
});
