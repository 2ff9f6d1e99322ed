// uBO's (@gorhill/ubo-core) and Ghostery's (@ghostery/adblocker) network engines, timed for scripts/bench_engine.py.
//
//     node driver.mjs SPEC.json
//
// SPEC names the folder the npm packages are installed in (`node_dir`), the public suffix list
// (`psl`), the lists (`lists`: {name, path, hosts}), the requests file (a JSON array of
// [url, source, type]), the engines and the build repeats. The driver builds each engine from the
// lists' text (timed), decides every request once (the warm-up), and prints one JSON line: build
// times and decisions. Then it reads commands on stdin: `pass` times one pass over every request
// for each engine in turn (process.hrtime.bigint() around each call) and answers `ok`, so that
// the caller can alternate these passes with its own; `done` prints each request's median ns
// over the passes as one JSON line and exits.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const requests = JSON.parse(readFileSync(spec.requests, 'utf8'));
const lists = spec.lists.map(list => ({ ...list, raw: readFileSync(list.path, 'utf8') }));

function fromPackage(...parts) {
    return import(pathToFileURL(join(spec.node_dir, 'node_modules', ...parts)).href);
}

function packageVersion(name) {
    return JSON.parse(readFileSync(join(spec.node_dir, 'node_modules', name, 'package.json'), 'utf8')).version;
}

function seconds(start) {
    return Number(process.hrtime.bigint() - start) / 1e9;
}

// uBO's webRequest type names; dejunk's aliases (and the corpus') mapped to them.
const UBO_TYPES = {
    xhr: 'xmlhttprequest', fetch: 'xmlhttprequest', subdocument: 'sub_frame', document: 'main_frame',
};
// Ghostery's Request knows webRequest's names and some of its own, but not `subdocument`.
const GHOSTERY_TYPES = { subdocument: 'sub_frame', document: 'main_frame' };

// A hosts file as `||host^` lines, for an engine without hosts syntax (uBO's own reading skips these names too).
const NOT_BLOCKED = new Set(['localhost', 'localhost.localdomain', 'local', 'broadcasthost', '0.0.0.0']);
function hostsAsFilters(raw) {
    const out = [];
    for (const line of raw.split('\n')) {
        const fields = line.split('#')[0].trim().split(/\s+/);
        if (fields.length < 2) { continue; }
        for (const host of fields.slice(1)) {
            if (host.includes('.') && !NOT_BLOCKED.has(host) && !host.startsWith('ip6-')) { out.push(`||${host}^`); }
        }
    }
    return out.join('\n');
}

async function makeUbo() {
    const ubo = await fromPackage('@gorhill/ubo-core', 'index.js');
    // 0.1.30's bundled public suffix list selfie does not load; without one every domain is wrong.
    if (!ubo.pslInit(readFileSync(spec.psl, 'utf8'))) { throw new Error('uBO: public suffix list not loaded'); }
    const snfe = await ubo.StaticNetFilteringEngine.create({ noPSL: true });
    const build = async () => {
        await snfe.useLists(lists.map(({ name, raw }) => ({ name, raw })));
    };
    const detailsOf = requests.map(([url, originURL, type]) => ({ url, originURL, type: UBO_TYPES[type] || type }));
    // What dejunk's `check` also answers: the redirect resource of a blocked request; the
    // `$removeparam`, `$csp` and `$replace` filters of one let through (as uBO's extension asks).
    const sameWork = i => {
        const details = detailsOf[i];
        const blocked = snfe.matchRequest(details) === 1;
        if (blocked) {
            snfe.matchAndFetchModifiers(details, 'redirect-rule');
        } else {
            if (details.url.includes('?')) { snfe.filterQuery(details); }
            if (details.type === 'main_frame' || details.type === 'sub_frame') {
                snfe.matchAndFetchModifiers(details, 'csp');
            }
            snfe.matchAndFetchModifiers(details, 'replace');
        }
        return blocked;
    };
    return {
        version: packageVersion('@gorhill/ubo-core'),
        notes: 'network filters only (ubo-core has no cosmetic engine); "ubo-same-work": matchRequest,'
            + ' then redirect-rule if blocked, else removeparam (with a query), csp (frames), replace',
        build,
        check: i => snfe.matchRequest(detailsOf[i]) === 1,
        variants: { 'ubo-same-work': sameWork },
    };
}

async function makeGhostery() {
    const { FiltersEngine, Request } = await fromPackage('@ghostery/adblocker', 'dist', 'esm', 'index.js');
    const text = lists.map(list => (list.hosts ? hostsAsFilters(list.raw) : list.raw)).join('\n');
    let engine = null;
    const build = async () => {
        engine = FiltersEngine.parse(text, { loadCosmeticFilters: true, loadNetworkFilters: true });
    };
    const detailsOf = requests.map(([url, sourceUrl, type]) => ({ url, sourceUrl, type: GHOSTERY_TYPES[type] || type }));
    return {
        version: packageVersion('@ghostery/adblocker'),
        notes: lists.some(list => list.hosts) ? 'hosts list fed as ||host^ lines (no hosts syntax); with cosmetic filters' : 'with cosmetic filters',
        build,
        // Making the Request (URL and domain parsing) is part of each decision, as it is for the others.
        check: i => engine.match(Request.fromRawDetails(detailsOf[i])).match,
    };
}

const MAKERS = { ubo: makeUbo, ghostery: makeGhostery };

const engines = {};
const header = { engines: {} };
for (const name of spec.engines) {
    try {
        const engine = await MAKERS[name]();
        const builds = [];
        for (let k = 0; k < Math.max(1, spec.build_repeats); k += 1) {
            const start = process.hrtime.bigint();
            await engine.build();
            builds.push(seconds(start));
        }
        const decisions = requests.map((_, i) => engine.check(i));  // the warm-up pass
        engines[name] = { ...engine, samples: requests.map(() => []) };
        header.engines[name] = { version: engine.version, notes: engine.notes, build_s: builds, blocked: decisions };
        for (const [variant, check] of Object.entries(engine.variants || {})) {
            const blocked = requests.map((_, i) => check(i));  // its warm-up pass
            engines[variant] = { check, samples: requests.map(() => []) };
            header.engines[variant] = { version: engine.version, notes: engine.notes, build_s: builds, blocked, variant_of: name };
        }
    } catch (error) {
        header.engines[name] = { error: String(error && error.stack || error) };
    }
}
process.stdout.write(JSON.stringify(header) + '\n');

function median(values) {
    const sorted = Float64Array.from(values).sort();
    const middle = sorted.length >> 1;
    return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const commands = createInterface({ input: process.stdin });
for await (const command of commands) {
    if (command === 'pass') {
        for (const engine of Object.values(engines)) {
            const { check, samples } = engine;
            for (let i = 0; i < requests.length; i += 1) {
                const start = process.hrtime.bigint();
                check(i);
                samples[i].push(Number(process.hrtime.bigint() - start));
            }
        }
        process.stdout.write('ok\n');
    } else if (command === 'done') {
        const medians = {};
        for (const [name, engine] of Object.entries(engines)) {
            medians[name] = engine.samples.map(median);
        }
        process.stdout.write(JSON.stringify({ median_ns: medians }) + '\n');
        break;
    }
}
commands.close();
