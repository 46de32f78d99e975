// tests/node/openapi-check.mjs - checks docs/openapi.yaml, and real
// responses against it (used by tests/e2e/openapi.sh).
//
//   node openapi-check.mjs SPEC                  the document itself
//                                                (@apidevtools/swagger-parser)
//   node openapi-check.mjs SPEC RESPONSES.jsonl  each response, one JSON
//        object a line: {"method", "path" (the spec's path template),
//        "status", "type" (Content-Type), "body"}.  Its status must be
//        documented for that operation, its media type among the
//        response's, and a JSON body valid against the response's schema
//        (ajv, JSON Schema 2020-12, as OpenAPI 3.1 uses), where no object
//        may have a property the schema does not name.
//   node openapi-check.mjs SPEC --kinds          the LogEntry kinds, one a line
//
// Prints one line per failure and exits 1 when there was one.
import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const [spec, responses] = process.argv.slice(2);

// Makes every object schema that names its properties closed, so that a
// field the code sends and the document does not name is a failure.
function closed(schema) {
	if (Array.isArray(schema)) return schema.map(closed);
	if (schema === null || typeof schema !== 'object') return schema;
	const out = {};
	for (const [k, v] of Object.entries(schema))
		out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, closed(s)])) : closed(v);
	if (out.properties && out.additionalProperties === undefined && out.unevaluatedProperties === undefined)
		out.unevaluatedProperties = false;
	return out;
}

function check(api, r, ajv) {
	const item = api.paths?.[r.path] ?? {};
	let op = item[r.method.toLowerCase()];
	// A method the path does not have: its 405 is the one its operations document.
	if (!op && r.status === 405)
		op = Object.values(item).find((o) => o?.responses?.['405']);
	if (!op) return `${r.method} ${r.path}: no such operation in the document`;
	const res = op.responses?.[String(r.status)] ?? op.responses?.default;
	if (!res) return `${r.method} ${r.path}: status ${r.status} is not documented`;
	if (!res.content) return r.body === '' ? null : `${r.method} ${r.path} ${r.status}: a body the document does not describe`;
	const type = (r.type || '').split(';')[0].trim().toLowerCase();
	const media = res.content[type];
	if (!media) return `${r.method} ${r.path} ${r.status}: Content-Type '${r.type}' is not one of ${Object.keys(res.content).join(', ')}`;
	if (type !== 'application/json' || !media.schema) return null;
	let body;
	try { body = JSON.parse(r.body); } catch (e) { return `${r.method} ${r.path} ${r.status}: not JSON: ${e.message}`; }
	const validate = ajv.compile(closed(media.schema));
	if (validate(body)) return null;
	return `${r.method} ${r.path} ${r.status}: ` + validate.errors.slice(0, 5)
		.map((e) => `${e.instancePath || '/'} ${e.message}${e.params?.unevaluatedProperty ? ` (${e.params.unevaluatedProperty})` : ''}${e.params?.allowedValues ? ` (${e.params.allowedValues.join(', ')}; got ${JSON.stringify(e.data)})` : ''}`)
		.join('; ');
}

async function main() {
	try {
		await SwaggerParser.validate(spec);
	} catch (e) {
		console.log(`${spec}: ${e.message}`);
		return 1;
	}
	if (responses === undefined) return 0;
	const api = await SwaggerParser.dereference(spec);
	if (responses === '--kinds') {
		console.log(api.components.schemas.LogEntry.properties.kind.enum.join('\n'));
		return 0;
	}
	const ajv = new Ajv2020({ strict: false, allErrors: true, verbose: true });
	addFormats(ajv);
	ajv.addFormat('int64', { type: 'number', validate: Number.isInteger });
	ajv.addFormat('binary', true);
	let failed = 0, n = 0;
	for (const line of readFileSync(responses, 'utf8').split('\n')) {
		if (line.trim() === '') continue;
		n++;
		const why = check(api, JSON.parse(line), ajv);
		if (why) { failed++; console.log(why); }
	}
	console.log(`# ${n} responses checked, ${failed} failed`);
	return failed > 0 || n === 0 ? 1 : 0;
}

process.exitCode = await main();
