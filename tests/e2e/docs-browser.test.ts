import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { loadSpec } from '../../server/src/spec';
import { createTestApp, type TestApp } from '../helpers/test-app';

/**
 * The HTML reference (/docs) as a reader sees it: Redoc runs in a real browser, headless
 * Chromium from Debian (never a downloaded one), against the app on a real socket. What
 * supertest cannot see is checked here: that the page renders every operation of the
 * contract, each with a curl sample, and that the browser reports no error and no Content
 * Security Policy violation while it does.
 */
const CHROMIUM = '/usr/bin/chromium';
/** Git-ignored (test-results/): a look at the page after a run. */
const SCREENSHOT = path.resolve(__dirname, '../../test-results/docs.png');
/** Flags that work as root on a machine with no network. */
const CHROMIUM_ARGS = [
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

interface Operation {
  method: string;
  path: string;
  operationId: string;
  summary: string;
}

/** Every path and method of the contract, read from openapi/triggers.v1.yaml. */
function contractOperations(): Operation[] {
  const paths = loadSpec().document.paths as Record<
    string,
    Record<string, { operationId: string; summary: string }>
  >;
  return Object.entries(paths).flatMap(([template, item]) =>
    METHODS.filter((method) => item[method]).map((method) => {
      const { operationId, summary } = item[method] as { operationId: string; summary: string };
      return { method, path: template, operationId, summary };
    }),
  );
}

function listen(t: TestApp): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = t.app.listen(0, '127.0.0.1', () => resolve(server));
    server.once('error', reject);
  });
}

describe('The HTML reference in a browser', () => {
  const operations = contractOperations();
  /** Console errors, page errors, failed requests, error statuses and CSP violations, in order. */
  const problems: string[] = [];
  let t: TestApp | undefined;
  let server: Server | undefined;
  let userDataDir: string | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let baseUrl: string;

  beforeAll(async () => {
    // Prepare: a missing browser fails the suite, never skips it.
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: this test needs Debian's Chromium. Run \`apt-get install chromium\` (.ci/run installs it).`,
      );
    }
    t = await createTestApp();
    server = await listen(t);
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    userDataDir = mkdtempSync(path.join(tmpdir(), 'triggers-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      chromiumSandbox: false,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    // Chromium reports violations on the console too; the event also names the directive.
    // (A script string: this file is type-checked without the DOM's types.)
    await page.addInitScript({
      content: `document.addEventListener('securitypolicyviolation', (event) =>
        console.error('CSP violation: ' + event.violatedDirective + ' refused ' + event.blockedURI));`,
    });
    page.on('console', (message) => {
      if (message.type() === 'error' || /Content Security Policy|Refused to/i.test(message.text()))
        problems.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) =>
      problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`),
    );
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
    });

    // Act: open the URL the server prints at start, and wait for Redoc to render the contract.
    await page.goto(`${baseUrl}/`, { waitUntil: 'networkidle' });
    const last = operations.at(-1)?.operationId;
    await page.locator(`[data-section-id="operation/${last}"]`).waitFor({ timeout: 30_000 });
  }, 60_000);

  afterAll(async () => {
    if (context) {
      try {
        // An operation with its curl sample, its heading at the top of the window.
        const createEvent = page.locator('[data-section-id="operation/createEvent"]');
        if (await createEvent.count()) await createEvent.evaluate((section) => section.scrollIntoView());
        mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT });
        console.log(`Screenshot of /docs: ${SCREENSHOT}`);
      } finally {
        await context.close();
      }
    }
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await t?.close();
  }, 30_000);

  it('reaches the reference from /, the URL the server prints at start', () => {
    // Assess
    expect(page.url()).toBe(`${baseUrl}/docs`);
  });

  it('shows every operation of the contract under its summary', async () => {
    // Prepare
    const expected = operations.map(({ operationId, summary }) => `${operationId}: ${summary}`);

    // Act
    const shown: string[] = [];
    for (const { operationId } of operations) {
      const heading = page.locator(`[data-section-id="operation/${operationId}"] h2`).first();
      shown.push(
        `${operationId}: ${(await heading.count()) ? (await heading.textContent())?.trim() : '(missing)'}`,
      );
    }

    // Assess
    expect(operations.length).toBeGreaterThan(20);
    expect(shown).toEqual(expected);
  });

  it('shows a curl sample with a copy button for every operation', async () => {
    // Prepare: the method (curl's default GET unsaid) and the path, its parameters as shell variables.
    const expected = operations.map(({ method, path: template, operationId }) => {
      const verb = method === 'get' ? 'curl ' : `curl -X ${method.toUpperCase()} `;
      const urlPath = template.replace(/\{([^}]+)\}/g, (_match, name: string) => `$${name.toUpperCase()}`);
      return `${operationId}: ${verb}${urlPath}`;
    });

    // Act: the sample tab Redoc shows first, in each operation's panel.
    const shown: string[] = [];
    for (const { method, path: template, operationId } of operations) {
      const panel = page.locator(`[data-section-id="operation/${operationId}"] [role="tabpanel"]`).first();
      const text = (await panel.count()) ? ((await panel.textContent()) ?? '') : '';
      const command = /curl(?: -X [A-Z]+)? ['"]https?:\/\/[^/'"]+(\/[^'"]*)['"]/.exec(text);
      const copy = await panel.getByRole('button', { name: 'Copy' }).count();
      shown.push(
        command && copy
          ? `${operationId}: ${command[0].split(/ ['"]/)[0]} ${command[1]}`
          : `${operationId}: no curl sample with a Copy button (${method.toUpperCase()} ${template})`,
      );
    }

    // Assess
    expect(shown).toEqual(expected);
  });

  it('logs no console error, page error, failed request or CSP violation', async () => {
    // Act: whatever the page still loads (images, the search worker) has settled.
    await page.waitForLoadState('networkidle');

    // Assess
    expect(problems).toEqual([]);
  });
});
