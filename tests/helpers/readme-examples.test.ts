import {
  compareOutput,
  mask,
  prettyJson,
  runExamples,
  sectionExamples,
  staleExamples,
} from './readme-examples';

const ACK = {
  lang: 'json' as const,
  text: [
    '{',
    '  "event_id": "019ac6a1-…",',
    '  "status": "acknowledged",',
    '  "acknowledged_at": "2026-11-27T15:31:00.000Z",',
    '  "request_id": "req_…"',
    '}',
  ].join('\n'),
};
const ACK_OUTPUT =
  '{"event_id":"0193f5e2-7c1d-7a00-8b3e-5d2c1f0e9a8b","status":"acknowledged","acknowledged_at":"2031-02-03T04:05:06.789Z","request_id":"req_4f0c2b9e8d7a41f6a3b5c9d8e7f60123"}\n';

describe('compareOutput', () => {
  it('passes compact JSON against the indented form the README prints, ids and times masked', () => {
    // Act
    const difference = compareOutput(ACK, ACK_OUTPUT);

    // Assess
    expect(difference).toBeUndefined();
  });

  it('fails a stale example whose field name differs, naming the line', () => {
    // Prepare: the README still says "acked_at"
    const stale = { ...ACK, text: ACK.text.replace('acknowledged_at', 'acked_at') };

    // Act
    const difference = compareOutput(stale, ACK_OUTPUT);

    // Assess
    expect(difference).toMatch(
      /line 4: the README shows\n {4}"acked_at": "<time>",\nbut the example printed\n/,
    );
  });

  it('fails a stale example whose status differs', () => {
    // Prepare
    const stale = { lang: 'text' as const, text: 'HTTP/1.1 201 Created\nLocation: /v1/events/019ac6a1-…' };

    // Act
    const difference = compareOutput(
      stale,
      'HTTP/1.1 200 OK\r\nLocation: /v1/events/0193f5e2-7c1d-7a00-8b3e-5d2c1f0e9a8b\r\n',
    );

    // Assess
    expect(difference).toMatch(/line 1: the README shows\n {2}HTTP\/1.1 201 Created\n/);
  });

  it('fails when the example prints a field the README leaves out', () => {
    // Act
    const difference = compareOutput(
      ACK,
      ACK_OUTPUT.replace('"status":"acknowledged"', '"status":"acknowledged","delivery_count":1'),
    );

    // Assess
    expect(difference).toBeDefined();
  });

  it('fails when the example prints lines the README does not show, unless a … line stands for them', () => {
    // Prepare
    const output = 'one\ntwo\nthree\n';

    // Act
    const strict = compareOutput({ lang: 'text', text: 'one\nthree' }, output);
    const elided = compareOutput({ lang: 'text', text: 'one\n…\nthree' }, output);
    const elidedNone = compareOutput({ lang: 'text', text: 'one\n…\ntwo\nthree' }, output);

    // Assess
    expect(strict).toBeDefined();
    expect(elided).toBeUndefined();
    expect(elidedNone).toBeUndefined();
  });

  it('lets … within a line stand for any text of that line, but not for another line', () => {
    // Act
    const within = compareOutput(
      { lang: 'text', text: 'verified order.created …' },
      'verified order.created x y z\n',
    );
    const across = compareOutput({ lang: 'text', text: 'verified …' }, 'verified a\nverified b\n');

    // Assess
    expect(within).toBeUndefined();
    expect(across).toBeDefined();
  });

  it('masks request ids, secrets, keys, subscription ids, durations and ports, printed in full or elided', () => {
    // Act
    const masked = mask(
      'req_5b0e4c1d… req_0123456789abcdef0123456789abcdef whsec_… whsec_AbC+/0= tk_… tk_Ab12_x-Y sub_019ae… ' +
        'sub_0123456789abcdef0123456789abcdef 12 ms 1.5 s "latency_ms": 7 127.0.0.1:8080 localhost:39123 6f1c…',
    );

    // Assess
    expect(masked).toBe(
      'req_<id> req_<id> whsec_<secret> whsec_<secret> tk_<key> tk_<key> sub_<id> sub_<id> <duration> <duration> ' +
        '"latency_ms": <duration> 127.0.0.1:<port> localhost:<port> <id>',
    );
  });

  it('leaves words that merely look like hex alone', () => {
    // Act
    const masked = mask('added… a deadbeef value and 2026');

    // Assess
    expect(masked).toBe('added… a deadbeef value and 2026');
  });

  it('wants a block without printed output to print nothing', () => {
    // Act
    const silent = compareOutput(undefined, '\n');
    const noisy = compareOutput(undefined, '{"status":"pending"}\n');

    // Assess
    expect(silent).toBeUndefined();
    expect(noisy).toMatch(/shows no output for this example, but it printed/);
  });
});

describe('prettyJson', () => {
  it('writes each document as JSON.stringify(value, null, 2), and keeps other lines and … lines', () => {
    // Act
    const lines = prettyJson('{"a":[1,{"b":null}]}\n…\n{\n  "c": "x" }\n204\nnot json {\n');

    // Assess
    expect(lines).toEqual([
      '{',
      '  "a": [',
      '    1,',
      '    {',
      '      "b": null',
      '    }',
      '  ]',
      '}',
      '…',
      '{',
      '  "c": "x"',
      '}',
      '204',
      'not json {',
    ]);
  });
});

describe('sectionExamples', () => {
  const README = [
    '# Title',
    '## First',
    'Setup:',
    '```sh',
    'X=1',
    '```',
    '',
    'Then:',
    '```sh',
    'echo "$X"',
    '```',
    '',
    '```text',
    '1',
    '```',
    '',
    'Not an output (prose between):',
    '',
    '```text',
    'ignored',
    '```',
    '## Second',
    '```sh',
    'true',
    '```',
  ].join('\n');

  it('pairs each sh block with the json or text block right after it, and gives its README line', () => {
    // Act
    const examples = sectionExamples(README, 'First');

    // Assess
    expect(examples).toEqual([
      { line: 5, code: 'X=1', printed: undefined },
      { line: 10, code: 'echo "$X"', printed: { lang: 'text', text: '1' } },
    ]);
  });

  it('throws for a section the README lacks', () => {
    expect(() => sectionExamples(README, 'Third')).toThrow('the README has no "## Third" section');
  });
});

describe('runExamples', () => {
  it('runs the blocks in one shell, in order, and splits what each printed', async () => {
    // Prepare
    const examples = [
      { line: 1, code: 'X=one' },
      { line: 2, code: 'printf "%s" "$X"' },
      { line: 3, code: 'echo two; echo three' },
    ];

    // Act
    const result = await runExamples(examples, { epilogue: 'echo "after $X"' });

    // Assess
    expect(result.outputs).toEqual(['', 'one', 'two\nthree\n']);
    expect(result.epilogue).toBe('after one\n');
  });

  it('rejects, naming the README line of the block that failed', async () => {
    // Act
    const run = runExamples([
      { line: 7, code: 'echo fine' },
      { line: 9, code: 'echo partial; false' },
      { line: 11, code: 'echo never' },
    ]);

    // Assess
    await expect(run).rejects.toThrow(
      /the README example at line 9 failed \(exit 1\):\necho partial; false\n/,
    );
  });

  it('reports every stale block of a run, and none when all match', async () => {
    // Prepare
    const examples = [
      {
        line: 3,
        code: 'echo \'{"status":"pending"}\'',
        printed: { lang: 'json' as const, text: '{ "status": "pending" }' },
      },
      { line: 8, code: 'echo 204', printed: { lang: 'text' as const, text: '200' } },
    ];

    // Act
    const { outputs } = await runExamples(examples);

    // Assess
    const stale = staleExamples(examples, outputs);
    expect(stale).toHaveLength(1);
    expect(stale[0]).toMatch(/^README line 8:\necho 204\n/);
    expect(staleExamples(examples.slice(0, 1), outputs.slice(0, 1))).toEqual([]);
  });
});
