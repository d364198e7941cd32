// End-to-end: the console in a real Chromium (Debian's, driven by playwright-core) against the
// local CDN (real varnishd x3, dnsdist DoH, the worker in workerd) on its own loopback ports.
// Cloudflare Access is exercised with RSA keys made here and a JWKS served here on loopback.
//
// Also: the official Cloudflare SDK (npm "cloudflare") against the compatible purge_cache endpoint.
// Run: node --test tests/console/console.test.mjs   (scripts/test does it after the setup)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { generateKeyPairSync, sign as rsaSign } from "node:crypto";
import { mkdirSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import Cloudflare from "cloudflare";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SHOTS = join(ROOT, ".state", "screenshots");
const TEAM = "edgepurge-test.cloudflareaccess.com";
const AUD = "edgepurge-test-audience";
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];

let cdn, info, jwks, browser;
let jwksFetches = 0;
const goodKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 });

/** Serves the Access team's JWKS (only goodKey) on a loopback port. */
function startJwks() {
  const jwk = { ...goodKey.publicKey.export({ format: "jwk" }), kid: "test-key-1", alg: "RS256", use: "sig" };
  const server = createServer((req, res) => {
    jwksFetches += 1;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

function b64url(data) {
  return Buffer.from(data).toString("base64url");
}

/** An RS256 JWT as Cloudflare Access would send it. */
function accessJwt(privateKey, kid, email) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: "RS256", kid, typ: "JWT" }));
  const body = b64url(JSON.stringify({ aud: [AUD], email, exp: now + 600, iat: now, nbf: now, iss: `https://${TEAM}`, sub: "x" }));
  const sig = rsaSign("sha256", Buffer.from(`${head}.${body}`), privateKey);
  return `${head}.${body}.${b64url(sig)}`;
}

/** Plain HTTP GET from Node: (status, headers, body). */
function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** GETs a page through one instance; returns its Cache-Status. */
async function cacheStatus(instance, path, host = info.site) {
  const res = await get(`http://${instance}${path}`, { host });
  assert.equal(res.status, 200);
  return res.headers["cache-status"];
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  jwks = await startJwks();
  const certs = `http://127.0.0.1:${jwks.address().port}/certs`;
  cdn = spawn("python3", [join(ROOT, "tests/cdn/localcdn.py"), "--ports", "console", "--state", join(ROOT, ".state/console"),
    "--var", `ACCESS_TEAM_DOMAIN=${TEAM}`, "--var", `ACCESS_AUD=${AUD}`, "--var", `ACCESS_CERTS_URL=${certs}`],
    { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  info = await new Promise((resolve, reject) => {
    let out = "";
    cdn.stdout.on("data", (chunk) => {
      out += chunk;
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) resolve(JSON.parse(line));
    });
    cdn.on("exit", (code) => reject(new Error(`local CDN exited with ${code}:\n${out}`)));
  });
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  if (cdn && cdn.exitCode === null) {
    const exited = new Promise((resolve) => cdn.on("exit", resolve));
    cdn.kill("SIGINT");
    await exited;
  }
  jwks?.close();
});

async function signIn(token) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error" && /Content Security Policy|Refused/.test(m.text())) errors.push(m.text()); });
  await page.goto(`${info.api}/`);
  await page.getByTestId("signin-token").fill(token);
  await page.getByTestId("signin-token").press("Enter");
  await page.getByTestId("me").waitFor();
  return { context, page, errors };
}

test("a signed-out visitor gets the sign-in form, not the pages", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${info.api}/#/history`);
  await page.getByTestId("signin-form").waitFor();
  assert.equal(await page.getByTestId("history-list").count(), 0);
  // A wrong token is refused with a message.
  await page.getByTestId("signin-token").fill("ep_not-a-real-token-000000000000");
  await page.getByTestId("signin-submit").click();
  await page.getByTestId("signin-error").waitFor();
  assert.match(await page.getByTestId("signin-error").textContent(), /not valid/);
  // The API agrees: no session, no data.
  const res = await page.request.get(`${info.api}/api/history`);
  assert.equal(res.status(), 401);
  await context.close();
});

test("admin creates an editor; the editor purges live, verifies, finds it in history, and cannot manage people", async () => {
  // --- admin: sign in with the demo token, add an editor, issue a token
  const admin = await signIn(info.token);
  assert.match(await admin.page.getByTestId("me").textContent(), /admin/);
  const session = (await admin.context.cookies()).find((c) => c.name === "__Host-ep_session");
  assert.ok(session, "session cookie set");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  assert.equal(session.secure, true);
  assert.deepEqual(await admin.page.evaluate(() => Object.keys(localStorage)), [], "nothing in localStorage");

  await admin.page.getByTestId("nav-people").click();
  await admin.page.getByTestId("person-name").fill("Edna Editor");
  await admin.page.getByTestId("person-email").fill("edna@example.com");
  await admin.page.getByTestId("person-create").click();
  const edna = admin.page.locator('[data-testid=person][data-name="Edna Editor"]');
  await edna.waitFor();
  await edna.getByTestId("token-label").fill("laptop");
  await edna.getByTestId("token-issue").click();
  const token = (await edna.getByTestId("issued-token").textContent()).trim();
  assert.match(token, /^ep_[A-Za-z0-9_-]{43}$/);
  await edna.getByTestId("token").first().waitFor();
  assert.doesNotMatch(await edna.getByTestId("token").first().textContent(), new RegExp(token), "listed tokens show only a hint");
  assert.deepEqual(admin.errors, []);

  // --- editor: warm a page on every instance, then purge it from the console
  const path = `/console/${Date.now()}`;
  for (const inst of info.instances) {
    await cacheStatus(inst, path);
    assert.match(await cacheStatus(inst, path), /; hit/);
  }
  const editor = await signIn(token);
  assert.match(await editor.page.getByTestId("me").textContent(), /Edna Editor \(editor\)/);
  assert.equal(await editor.page.getByTestId("nav-people").count(), 0, "no People link for editors");
  assert.deepEqual(await editor.page.getByTestId("purge-kind").locator("option").evaluateAll((o) => o.map((x) => x.value)),
    ["urls", "keys"], "editors are offered URLs and keys only");

  // Keyboard only: Tab to the URL box, type, Tab to the button, Enter.
  let tabs = 0;
  while (!(await editor.page.getByTestId("purge-urls").evaluate((el) => el === document.activeElement)) && tabs++ < 20) {
    await editor.page.keyboard.press("Tab");
  }
  await editor.page.keyboard.type(`https://${info.site}${path}`);
  await editor.page.keyboard.press("Tab");
  assert.equal(await editor.page.evaluate(() => document.activeElement.dataset.testid), "purge-soft");
  await editor.page.keyboard.press("Tab");
  assert.equal(await editor.page.evaluate(() => document.activeElement.dataset.testid), "purge-confirm");
  assert.equal(await editor.page.getByTestId("purge-confirm").isChecked(), true, "confirm is on by default");
  await editor.page.keyboard.press("Tab");
  assert.equal(await editor.page.evaluate(() => document.activeElement.dataset.testid), "purge-submit");
  await editor.page.keyboard.press("Enter");
  await editor.page.locator("[data-testid=live-table] caption", { hasText: "All purged" }).waitFor();
  const rows = editor.page.getByTestId("live-row");
  assert.equal(await rows.count(), 3);
  for (let i = 0; i < 3; i++) assert.equal(await rows.nth(i).getAttribute("data-outcome"), "purged");
  // Confirmed: the HEAD behind each PURGE found no old copy, and stored a fresh one.
  const confirmed = await editor.page.getByTestId("confirm").evaluateAll((c) => c.map((x) => [x.dataset.confirm, x.title]));
  assert.equal(confirmed.length, 3);
  for (const [state, title] of confirmed) {
    assert.equal(state, "freshcopy");
    assert.match(title, /^edge-\d; fwd=uri-miss; stored$/);
  }
  assert.deepEqual((await rows.evaluateAll((r) => r.map((x) => x.dataset.instance))).sort(), [...info.instances].sort());
  // The waterfall: one bar per instance, from its request's start to its answer.
  const bars = editor.page.getByTestId("waterfall-bar");
  assert.deepEqual((await bars.evaluateAll((b) => b.map((x) => x.dataset.instance))).sort(), [...info.instances].sort());
  assert.deepEqual(await bars.evaluateAll((b) => b.map((x) => x.dataset.outcome)), ["purged", "purged", "purged"]);
  await editor.page.screenshot({ path: join(SHOTS, "purge.png"), fullPage: true });
  // Phone width: nothing overflows the viewport sideways (wide tables scroll inside their box).
  await editor.page.setViewportSize({ width: 390, height: 844 });
  assert.ok(await editor.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), "no sideways overflow at 390 px");
  await editor.page.screenshot({ path: join(SHOTS, "purge-phone.png"), fullPage: true });
  await editor.page.setViewportSize({ width: 1280, height: 800 });

  // --- verify: every instance now reports a miss
  await editor.page.getByTestId("nav-verify").click();
  await editor.page.getByTestId("verify-url").fill(`https://${info.site}${path}`);
  await editor.page.getByTestId("verify-submit").click();
  await editor.page.getByTestId("verify-row").nth(2).waitFor();
  // Each instance serves the fresh copy its confirming HEAD stored: a hit, not the old page.
  const hits = await editor.page.getByTestId("verify-row").evaluateAll((r) => r.map((x) => x.dataset.hit));
  assert.deepEqual(hits, ["true", "true", "true"]);

  // --- history: the purge is there, by Edna, with per-instance detail
  await editor.page.getByTestId("nav-history").click();
  await editor.page.getByTestId("history-url").fill(path);
  await editor.page.getByTestId("history-actor").fill("Edna Editor");
  await editor.page.getByTestId("history-apply").click();
  const entry = editor.page.getByTestId("history-entry").first();
  await entry.waitFor();
  assert.equal(await editor.page.getByTestId("history-entry").count(), 1);
  assert.equal(await entry.getAttribute("data-status"), "purged");
  assert.match(await entry.textContent(), new RegExp(`Edna Editor.*${path}`));
  await entry.locator("summary").click();
  // Its trace: a link made from TRACE_URL_TEMPLATE (locally, the OTLP receiver's view of it).
  const link = entry.getByTestId("history-trace-link");
  const traceId = await entry.getByTestId("history-trace").getAttribute("data-trace-id");
  assert.match(traceId, /^[0-9a-f]{32}$/);
  assert.match(await link.getAttribute("href"), new RegExp(`/trace/${traceId}$`));
  assert.equal(await entry.getByTestId("waterfall-bar").count(), 3, "the history entry's waterfall");
  await editor.page.screenshot({ path: join(SHOTS, "history.png"), fullPage: true });

  // --- the editor cannot manage people: the API says 403, not just a hidden link
  const people = await editor.page.request.get(`${info.api}/api/people`);
  assert.equal(people.status(), 403);
  assert.equal((await people.json()).type, "urn:edgepurge:problem:forbidden");
  const csrf = await editor.page.request.get(`${info.api}/api/me`).then((r) => r.json()).then((m) => m.csrf_token);
  const create = await editor.page.request.post(`${info.api}/api/people`, {
    headers: { "x-csrf-token": csrf, origin: info.api }, data: { name: "Mallory", role: "admin" } });
  assert.equal(create.status(), 403);

  // --- a state-changing call without the CSRF token is refused even with the session cookie
  const noCsrf = await editor.page.request.post(`${info.api}/api/purge`, { data: { urls: [`https://${info.site}${path}`] } });
  assert.equal(noCsrf.status(), 403);

  // --- signing out ends the session: the page returns to sign-in and the API refuses
  await editor.page.getByTestId("signout").click();
  await editor.page.getByTestId("signin-form").waitFor();
  assert.equal((await editor.page.request.get(`${info.api}/api/me`)).status(), 401);
  assert.deepEqual(editor.errors, []);
  await admin.context.close();
  await editor.context.close();
});

test("a surrogate-key purge is confirmed in the console through a URL named for it", async () => {
  const tag = `c${Date.now()}`;
  const path = `/tagged/${tag}/page`;
  for (const inst of info.instances) {
    await cacheStatus(inst, path);
    assert.match(await cacheStatus(inst, path), /; hit/);
  }
  const admin = await signIn(info.token);
  await admin.page.getByTestId("purge-kind").selectOption("keys");
  await admin.page.getByTestId("purge-urls").fill(tag);
  const url = `https://${info.site}${path}`;
  await admin.page.getByTestId("purge-confirm-urls").fill(url);
  await admin.page.getByTestId("purge-submit").click();
  await admin.page.locator("[data-testid=live-table] caption", { hasText: "All purged" }).waitFor();
  const cells = await admin.page.getByTestId("live-row").evaluateAll((rows) => rows.map((r) => {
    const c = r.querySelector("[data-testid=confirm]");
    return [r.dataset.instance, c.dataset.confirm, c.title];
  }));
  // The key's rows on the site's instances say what each now serves at the named URL.
  const site = cells.filter(([inst]) => info.instances.includes(inst));
  assert.equal(site.length, 3, JSON.stringify(cells));
  for (const [, state, title] of site) {
    assert.equal(state, "freshcopy");
    assert.ok(title.startsWith(`${url}: edge-`), title);
  }
  assert.deepEqual(admin.errors, []);
  await admin.context.close();
});

test("an admin changes a role and removes a person in the console; their session ends at once", async () => {
  const admin = await signIn(info.token);
  await admin.page.getByTestId("nav-people").click();
  const name = `Temp ${Date.now()}`;
  await admin.page.getByTestId("person-name").fill(name);
  await admin.page.getByTestId("person-create").click();
  const row = admin.page.locator(`[data-testid=person][data-name="${name}"]`);
  await row.waitFor();
  await row.getByTestId("token-label").fill("temp");
  await row.getByTestId("token-issue").click();
  const token = (await row.getByTestId("issued-token").textContent()).trim();
  const temp = await signIn(token);
  assert.match(await temp.page.getByTestId("me").textContent(), /\(editor\)/);

  // Promote: the list shows the new role, and the person's open session has ended.
  await row.getByTestId("person-set-role").selectOption("admin");
  await admin.page.locator(`[data-testid=person][data-name="${name}"] .badge`, { hasText: "admin" }).waitFor();
  await temp.page.getByTestId("nav-history").click();
  await temp.page.getByTestId("signin-notice").waitFor();
  await temp.context.close();

  // Remove: gone from the list, and the token no longer signs in.
  const again = await signIn(token);
  assert.match(await again.page.getByTestId("me").textContent(), /\(admin\)/);
  await admin.page.locator(`[data-testid=person][data-name="${name}"]`).getByTestId("person-remove").click();
  await admin.page.locator(`[data-testid=person][data-name="${name}"]`).waitFor({ state: "detached" });
  const gone = await get(`${info.api}/api/me`, { authorization: `Bearer ${token}` });
  assert.equal(gone.status, 401, gone.body);
  assert.deepEqual(admin.errors, []);
  await again.context.close();
  await admin.context.close();
});

test("an admin issues a scoped token and sees its scopes; the token does no more than they say", async () => {
  const admin = await signIn(info.token);
  await admin.page.getByTestId("nav-people").click();
  const name = `Deploy bot ${Date.now()}`;
  await admin.page.getByTestId("person-name").fill(name);
  await admin.page.getByTestId("person-create").click();
  const row = admin.page.locator(`[data-testid=person][data-name="${name}"]`);
  await row.waitFor();
  await row.getByTestId("token-label").fill("ci");
  await row.getByTestId("token-select").check();
  await row.getByTestId("token-hosts").fill(info.site.toUpperCase());
  await row.getByTestId("token-issue").click();
  const token = (await row.getByTestId("issued-token").textContent()).trim();
  // The list shows the scopes as stored: URLs and keys only, the host normalised.
  const listed = row.getByTestId("token-scopes").first();
  await listed.waitFor();
  assert.equal((await listed.textContent()).trim(), `URLs and keys only; ${info.site}`);
  assert.equal(await row.getByTestId("token-select").isChecked(), false, "the form is reset after issuing");

  // The token says the same about itself, and is refused another host (nothing purged there).
  const me = await fetch(`${info.api}/api/me`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(me.status, 200);
  assert.deepEqual((await me.json()).scopes, { kinds: "select", hosts: [info.site] });
  const other = await fetch(`${info.api}/api/purge`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ urls: [`https://${info.assets_site}/${Date.now()}`] }),
  });
  assert.equal(other.status, 403);
  assert.equal((await other.json()).type, "urn:edgepurge:problem:out-of-scope");
  assert.deepEqual(admin.errors, []);
  await admin.context.close();
});

test("a notification's link opens the history at its entry, shown open", async () => {
  // The tests before this one purged: link the second newest entry, which has an older one below.
  const page = await fetch(`${info.api}/api/history?limit=3`, { headers: { authorization: `Bearer ${info.token}` } });
  const entries = (await page.json()).entries;
  assert.equal(entries.length, 3);
  const id = entries[1].id;
  const admin = await signIn(info.token);
  await admin.page.goto(`${info.api}/#/history/${id}`);
  await admin.page.reload();
  const first = admin.page.getByTestId("history-entry").first();
  await first.waitFor();
  assert.equal(await first.getAttribute("data-id"), String(id), "the list starts at the linked entry");
  assert.equal(await first.locator("details").evaluate((d) => d.open), true, "and shows it open");
  assert.equal(await admin.page.getByTestId("history-entry").nth(1).locator("details").evaluate((d) => d.open), false);
  assert.deepEqual(admin.errors, []);
  await admin.context.close();
});

test("an expired or ended session sends the person back to sign-in with a message", async () => {
  const { context, page } = await signIn(info.token);
  await context.clearCookies();
  await page.getByTestId("nav-history").click();
  await page.getByTestId("signin-notice").waitFor();
  assert.match(await page.getByTestId("signin-notice").textContent(), /expired|sign in/i);
  await context.close();
});

test("Cloudflare Access: a JWT signed by the team's key is accepted, one signed by another key is refused", async () => {
  // Edna's e-mail maps to her editor role (she was created above; create her if run alone).
  const admin = await signIn(info.token);
  const csrf = await admin.page.request.get(`${info.api}/api/me`).then((r) => r.json()).then((m) => m.csrf_token);
  await admin.page.request.post(`${info.api}/api/people`, {
    headers: { "x-csrf-token": csrf, origin: info.api }, data: { name: "Edna Editor", email: "edna@example.com", role: "editor" } });
  await admin.context.close();

  const ok = await get(`${info.api}/api/me`, { "cf-access-jwt-assertion": accessJwt(goodKey.privateKey, "test-key-1", "Edna@Example.com") });
  assert.equal(ok.status, 200, ok.body);
  const me = JSON.parse(ok.body);
  assert.deepEqual([me.name, me.role, me.via], ["Edna Editor", "editor", "access"]);

  for (const [key, kid] of [[otherKey.privateKey, "test-key-1"], [otherKey.privateKey, "unknown-key"]]) {
    const bad = await get(`${info.api}/api/me`, { "cf-access-jwt-assertion": accessJwt(key, kid, "edna@example.com") });
    assert.equal(bad.status, 401, bad.body);
    assert.equal(JSON.parse(bad.body).type, "urn:edgepurge:problem:unauthorized");
  }
  // A valid JWT for someone with no role is forbidden, not signed in.
  const stranger = await get(`${info.api}/api/me`, { "cf-access-jwt-assertion": accessJwt(goodKey.privateKey, "test-key-1", "stranger@example.com") });
  assert.equal(stranger.status, 403, stranger.body);
});

test("Cloudflare Access: JWTs naming unknown keys make the worker fetch the team's keys at most once a minute", async () => {
  // Issue 9, finding 7: before, every JWT with an unknown `kid` refetched the JWKS before any check.
  await get(`${info.api}/api/me`, { "cf-access-jwt-assertion": accessJwt(goodKey.privateKey, "test-key-1", "edna@example.com") });
  const before = jwksFetches;
  for (let i = 0; i < 5; i++) {
    const bad = await get(`${info.api}/api/me`, { "cf-access-jwt-assertion": accessJwt(otherKey.privateKey, `unknown-${i}`, "edna@example.com") });
    assert.equal(bad.status, 401, bad.body);
  }
  assert.ok(jwksFetches - before <= 1, `${jwksFetches - before} fetches for 5 unknown key ids`);
  // The team's own key still works meanwhile.
  const ok = await get(`${info.api}/api/me`, { "cf-access-jwt-assertion": accessJwt(goodKey.privateKey, "test-key-1", "edna@example.com") });
  assert.equal(ok.status, 200, ok.body);
});

test("three instance groups in one purge: plain, TLS and Fly Machines by region and id; stopped Machines listed as skipped", async () => {
  const admin = await signIn(info.token);
  const path = `/groups/${Date.now()}`;
  const urls = [info.site, info.assets_site, info.fly_site].map((host) => `https://${host}${path}`);
  // Cached everywhere first, so every row says purged (the Fly-like app's Machines are the
  // assets group's varnishd, under their own host).
  for (const inst of info.instances) await cacheStatus(inst, path);
  for (const inst of info.assets_varnish) {
    await cacheStatus(inst, path, info.assets_site);
    await cacheStatus(inst, path, info.fly_site);
  }
  await admin.page.getByTestId("purge-urls").fill(urls.join("\n"));
  await admin.page.getByTestId("purge-submit").click();
  await admin.page.locator("[data-testid=live-table] caption", { hasText: "All purged: 7 purged" }).waitFor();
  const seen = await admin.page.getByTestId("live-row").evaluateAll((r) => r.map((x) => x.dataset.instance));
  assert.deepEqual(seen.sort(), [...info.instances, ...info.assets_instances, ...info.fly_instances].sort());
  assert.ok(info.fly_instances.every((name) => /^[a-z]{3} [0-9a-f]{14}$/.test(name)), "Machines by region and id");
  await admin.page.screenshot({ path: join(SHOTS, "purge-groups.png"), fullPage: true });

  await admin.page.getByTestId("nav-instances").click();
  await admin.page.getByTestId("skipped-instance").first().waitFor();
  const skipped = await admin.page.getByTestId("skipped-instance").evaluateAll((s) => s.map((x) => x.dataset.instance));
  assert.deepEqual(skipped, ["syd 148e272b4e5d89"]);
  const transports = await admin.page.getByTestId("transport").evaluateAll((t) => t.map((x) => x.dataset.transport));
  // The app group, the Pipely-like plain group, the misdeclared one and the two layered sites'
  // own groups in clear text (loopback).
  assert.deepEqual(transports.sort(), ["plain", "plain", "plain", "plain", "plain", "tls", "tls"]);
  // Each layered site lists the upstream groups purged beside its instances.
  const upstreams = await admin.page.getByTestId("upstream").evaluateAll((u) => u.map((x) => x.dataset.upstream));
  assert.deepEqual(upstreams.sort(), Object.values(info.upstream_groups).flat().sort());
  // Latency over the last 24 hours, from the purges so far: every purged instance has figures.
  for (const inst of [...info.instances, ...info.assets_instances, ...info.fly_instances]) {
    const row = admin.page.locator(`[data-testid=instance-row][data-instance="${inst}"]`);
    assert.match(await row.getByTestId("instance-p50").textContent(), /^\d+ ms$/, inst);
    assert.match(await row.getByTestId("instance-p95").textContent(), /^\d+ ms$/, inst);
    assert.match(await row.getByTestId("instance-failed").textContent(), /^0 of [1-9]\d*$/, inst);
    assert.equal(await row.getByTestId("sparkline").count(), 1, inst);
  }
  await admin.page.screenshot({ path: join(SHOTS, "instances.png"), fullPage: true });
  assert.deepEqual(admin.errors, []);
  await admin.context.close();
});

test("an admin checks every instance: each one's contract is named and the misdeclared group is flagged", async () => {
  const admin = await signIn(info.token);
  await admin.page.getByTestId("nav-instances").click();
  await admin.page.getByTestId("check-button").click();
  await admin.page.getByTestId("check-summary").waitFor();
  const rows = await admin.page.getByTestId("check-row").evaluateAll((r) => r.map((x) => ({
    instance: x.dataset.instance, seen: x.dataset.seen, declared: x.dataset.declared, warning: x.dataset.warning,
  })));
  const by = Object.fromEntries(rows.map((r) => [r.instance, r]));
  for (const inst of [...info.instances, ...info.assets_instances, ...info.fly_instances]) {
    assert.deepEqual([by[inst].declared, by[inst].seen, by[inst].warning], ["edgepurge", "edgepurge", "false"], inst);
  }
  for (const inst of info.plain_instances) {
    assert.deepEqual([by[inst].declared, by[inst].seen, by[inst].warning], ["plain", "plain", "false"], inst);
  }
  const legacy = by[info.legacy_instances[0]];
  assert.deepEqual([legacy.declared, legacy.seen, legacy.warning], ["edgepurge", "plain", "true"]);
  const warning = admin.page.locator(`[data-testid=check-row][data-instance="${info.legacy_instances[0]}"] [data-testid=check-warning]`);
  assert.match(await warning.textContent(), /contract=plain/);
  assert.match(await admin.page.getByTestId("check-summary").textContent(), /1 with a warning/);
  const contracts = await admin.page.getByTestId("contract").evaluateAll((c) => c.map((x) => x.dataset.contract));
  assert.deepEqual(contracts.sort(), ["edgepurge", "edgepurge", "edgepurge", "edgepurge", "edgepurge", "edgepurge", "plain"]);
  await admin.page.screenshot({ path: join(SHOTS, "instance-check.png"), fullPage: true });
  // The history keeps it as a check.
  await admin.page.getByTestId("nav-history").click();
  await admin.page.locator("[data-testid=history-entry][data-kind=check]").first().waitFor();
  assert.deepEqual(admin.errors, []);
  await admin.context.close();
});

test("every page carries the security headers", async () => {
  for (const path of ["/", "/api/health", "/pkg/edgepurge_web.js"]) {
    const res = await get(`${info.api}${path}`);
    assert.equal(res.status, 200, path);
    assert.match(res.headers["content-security-policy"], /script-src 'self' 'wasm-unsafe-eval'/, path);
    assert.equal(res.headers["x-content-type-options"], "nosniff", path);
    assert.equal(res.headers["x-frame-options"], "DENY", path);
    assert.equal(res.headers["access-control-allow-origin"], undefined, path);
  }
});

test("the official Cloudflare SDK purges and invalidates through the compatible endpoints with only its base URL changed", async () => {
  const client = new Cloudflare({ apiToken: info.token, baseURL: `${info.api}/client/v4`, maxRetries: 0 });
  const path = `/sdk/${Date.now()}`;
  const tag = `sdk${Date.now()}`;
  for (const p of [path, `/tagged/${tag}/x`]) {
    for (const inst of info.instances) {
      await cacheStatus(inst, p);
      assert.match(await cacheStatus(inst, p), /; hit/);
    }
  }
  const files = await client.cache.purge({ zone_id: "023e105f4ecef8ad9ca31a8372d0c353", files: [`https://${info.site}${path}`] });
  assert.equal(typeof files.id, "string");
  const tags = await client.cache.purge({ zone_id: "023e105f4ecef8ad9ca31a8372d0c353", tags: [tag] });
  assert.equal(typeof tags.id, "string");
  for (const inst of info.instances) {
    assert.match(await cacheStatus(inst, path), /fwd=uri-miss/);
    assert.match(await cacheStatus(inst, `/tagged/${tag}/x`), /fwd=uri-miss/);
  }
  // invalidate_cache (revalidating purge): edgepurge's soft purge, served stale while refetched.
  const stale = `/sdk-stale/${Date.now()}`;
  for (const inst of info.instances) {
    await cacheStatus(inst, stale);
    assert.match(await cacheStatus(inst, stale), /; hit/);
  }
  const inv = await client.cache.invalidate({ zone_id: "023e105f4ecef8ad9ca31a8372d0c353", files: [`https://${info.site}${stale}`] });
  assert.equal(typeof inv.id, "string");
  for (const inst of info.instances) {
    assert.match(await cacheStatus(inst, stale), /fwd=stale/);
  }
  // A refused purge surfaces as the SDK's own error, with the HTTP status.
  const bad = new Cloudflare({ apiToken: "not-a-valid-token-000000", baseURL: `${info.api}/client/v4`, maxRetries: 0 });
  await assert.rejects(bad.cache.purge({ zone_id: "z", files: [`https://${info.site}${path}`] }), (e) => e.status === 401);
});
